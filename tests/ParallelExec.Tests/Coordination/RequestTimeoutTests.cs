using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

/// <summary>
/// The bus keeps its requests' timeouts itself (one list per distinct timeout, one timer), and a timer per request only
/// past a few distinct timeouts: every request must still time out at its own deadline, never earlier, and disposal
/// must fail every one that is left.
/// </summary>
public class RequestTimeoutTests
{
    [Fact]
    public async Task Requests_with_more_distinct_timeouts_than_lanes_each_time_out_at_their_own_deadline()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).Build();
        var never = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var responder = bus.Respond<int, int>("hold", (m, ct) => new ValueTask<int>(never.Task), new SubscriptionOptions { MaxDegreeOfParallelism = 64 });

        // Timeouts in half seconds, asked for out of order (a shorter lane after a longer one must still fire first),
        // more distinct values than the bus keeps lanes for; and a second request per timeout asked a second later.
        int[] halfSeconds = [12, 2, 9, 4, 1, 7, 3, 10];
        Assert.True(halfSeconds.Distinct().Count() > 4, "the test needs more distinct timeouts than lanes");
        var requests = new List<(int Id, long Deadline, Task<int> Task)>();
        foreach (var h in halfSeconds)
        {
            requests.Add((requests.Count, h, bus.RequestAsync<int, int>("hold", requests.Count, TimeSpan.FromSeconds(h / 2.0))));
        }

        time.Advance(TimeSpan.FromSeconds(1));
        foreach (var h in halfSeconds)
        {
            requests.Add((requests.Count, h + 2, bus.RequestAsync<int, int>("hold", requests.Count, TimeSpan.FromSeconds(h / 2.0))));
        }

        // The clock in half seconds: a request has ended exactly when its deadline has come.
        for (var now = 2; now <= 14; now++)
        {
            foreach (var (id, deadline, task) in requests)
            {
                Assert.True(task.IsCompleted == deadline <= now, $"request {id} (deadline {deadline / 2.0} s): completed {task.IsCompleted} at {now / 2.0} s");
            }

            time.Advance(TimeSpan.FromSeconds(0.5));
        }

        foreach (var (id, _, task) in requests)
        {
            var exception = await Assert.ThrowsAsync<TimeoutException>(() => task);
            Assert.Contains("\"hold\"", exception.Message, StringComparison.Ordinal);
        }

        never.SetResult(0);
    }

    [Fact]
    public async Task Answered_requests_leave_and_the_rest_time_out_on_time()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).Build();
        var held = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var answering = bus.Respond<int, int>("answer", (m, ct) => new ValueTask<int>(-m.Message));

        // One handler that never answers: the first held request blocks it, the others wait in its mailbox.
        using var holding = bus.Respond<int, int>("hold", (m, ct) => new ValueTask<int>(held.Task), new SubscriptionOptions { QueueCapacity = 1_000 });

        // Even ids are answered, odd ids held, interleaved in one lane (the same timeout).
        var requests = Enumerable.Range(0, 1_000)
            .Select(id => bus.RequestAsync<int, int>(id % 2 == 0 ? "answer" : "hold", id, TimeSpan.FromSeconds(5)))
            .ToArray();
        await Task.WhenAll(requests.Where((_, id) => id % 2 == 0)).WithTimeout();
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.All(requests.Where((_, id) => id % 2 == 1), task => Assert.False(task.IsCompleted));

        time.Advance(TimeSpan.FromSeconds(0.1));
        for (var id = 0; id < requests.Length; id++)
        {
            if (id % 2 == 0)
            {
                Assert.Equal(-id, await requests[id]);
            }
            else
            {
                await Assert.ThrowsAsync<TimeoutException>(() => requests[id]);
            }
        }

        held.SetResult(0);
    }

    /// <summary>
    /// Disposal fails what is still pending in every lane. Through the bus, a request is still pending at that point only
    /// when it raced with the disposal (the drain waits for every responder to answer, fail or drop it first), so the
    /// list is driven directly here.
    /// </summary>
    [Fact]
    public void Closing_the_pending_requests_fails_every_one_in_every_lane_and_refuses_new_ones()
    {
        var time = new FakeTimeProvider();
        var pending = new PendingRequests(time);
        TimeSpan[] timeouts =
        [
            Timeout.InfiniteTimeSpan, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(3),
            TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(6), TimeSpan.FromMinutes(1),
        ];
        var requests = timeouts.Select(_ => new RecordingRequest()).ToArray();
        var added = requests.Select((request, id) => pending.Add(request, timeouts[id])).ToArray();

        // Four lanes: the minutes 1 to 4 are kept by the list, 5 and 6 need their own timers; forever needs none.
        Assert.Equal(
            [PendingAdd.Timed, PendingAdd.Timed, PendingAdd.Timed, PendingAdd.Timed, PendingAdd.Timed, PendingAdd.NeedsOwnTimer, PendingAdd.NeedsOwnTimer, PendingAdd.Timed],
            added);
        pending.Remove(requests[2]);
        pending.Close();

        for (var id = 0; id < requests.Length; id++)
        {
            Assert.Equal(id == 2 ? 0 : 1, requests[id].Disposed);
            Assert.Equal(0, requests[id].Expired);
        }

        var late = new RecordingRequest();
        Assert.Equal(PendingAdd.Closed, pending.Add(late, TimeSpan.FromMinutes(1)));

        // The list's timer is gone: nothing expires after the close.
        time.Advance(TimeSpan.FromHours(1));
        Assert.All(requests, request => Assert.Equal(0, request.Expired));
        pending.Close();
        Assert.All(requests, request => Assert.True(request.Disposed <= 1));
    }

    [Fact]
    public void A_lane_emptied_by_replies_is_reused_by_another_timeout()
    {
        var time = new FakeTimeProvider();
        var pending = new PendingRequests(time);
        var first = Enumerable.Range(1, PendingRequests.MaxLanes).Select(m => (Request: new RecordingRequest(), Timeout: TimeSpan.FromMinutes(m))).ToArray();
        Assert.All(first, r => Assert.Equal(PendingAdd.Timed, pending.Add(r.Request, r.Timeout)));
        var overflow = new RecordingRequest();
        Assert.Equal(PendingAdd.NeedsOwnTimer, pending.Add(overflow, TimeSpan.FromMinutes(10)));

        // The 2-minute lane empties; a new timeout takes it and times out on its own deadline.
        pending.Remove(first[1].Request);
        var reused = new RecordingRequest();
        Assert.Equal(PendingAdd.Timed, pending.Add(reused, TimeSpan.FromSeconds(30)));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, reused.Expired);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, reused.Expired);
        Assert.Equal(0, first[0].Request.Expired);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(1, first[0].Request.Expired);
        Assert.Equal(0, first[1].Request.Expired);
        time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(1, first[2].Request.Expired);
        Assert.Equal(1, first[3].Request.Expired);

        // The overflow request's timeout is its own timer's job, not the list's.
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(0, overflow.Expired);
    }

    [Fact]
    public async Task Answered_requests_do_not_pile_up_in_the_bus()
    {
        await using var bus = Exec.Bus().Build();
        using var responder = bus.Respond<int, int>("svc.add", (m, ct) => new ValueTask<int>(m.Message + 1));

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(i + 1, await bus.RequestAsync<int, int>("svc.add", i).WithTimeout());
        }

        // Each reply unlinked its request.
        Assert.Equal(0, bus.PendingRequests.LinkedCount);
    }

    /// <summary>With the system clock the list keeps deadlines on the runtime's coarse tick count, plus a margin for its
    /// resolution: a request must still never time out before its timeout, measured on a precise clock.</summary>
    [Fact]
    public async Task On_the_system_clock_requests_never_time_out_early()
    {
        await using var bus = Exec.Bus().Build();
        var never = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var responder = bus.Respond<int, int>("svc.silent", (m, ct) => new ValueTask<int>(never.Task.WaitAsync(ct)));
        TimeSpan[] timeouts = [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(75)];

        var timings = await Task.WhenAll(timeouts.Select(async timeout =>
        {
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAsync<TimeoutException>(() => bus.RequestAsync<int, int>("svc.silent", 1, timeout)).WithTimeout();
            return clock.Elapsed;
        }));

        for (var i = 0; i < timeouts.Length; i++)
        {
            Assert.InRange(timings[i], timeouts[i], TimeSpan.FromSeconds(10));
        }

        never.SetResult(0);
    }

    /// <summary>A wait longer than a timer can take (about 49.7 days) is refused at the call, naming the parameter and
    /// the value, as the options' timeouts are; before, it threw from inside the runtime's timer, after the request had
    /// been linked (and stayed linked). The longest allowed wait works.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Waits_longer_than_a_timer_can_take_are_refused_at_the_call(bool fakeClock)
    {
        var builder = Exec.Bus();
        if (fakeClock)
        {
            builder.WithTimeProvider(new FakeTimeProvider());
        }

        await using var bus = builder.Build();
        using var responder = bus.Respond<int, int>("svc.add", (m, ct) => new ValueTask<int>(m.Message + 1));
        var tooLong = OptionsValidator.MaxTimerSpan + TimeSpan.FromMilliseconds(1);

        foreach (var timeout in new[] { tooLong, TimeSpan.MaxValue })
        {
            var refused = Assert.Throws<ArgumentOutOfRangeException>("timeout", () => { _ = bus.RequestAsync<int, int>("svc.add", 1, timeout); });
            Assert.Equal(timeout, refused.ActualValue);
            Assert.Contains("the longest timer", refused.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>("window", () => bus.ScatterGatherAsync<int, int>("svc.add", 1, timeout));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>("timeout", () => bus.WaitForAsync<int>("svc.add", null, timeout));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>("timeout", () => bus.CreateBarrier(2).SignalAndWaitAsync(timeout));
        }

        Assert.Equal(0, bus.PendingRequests.LinkedCount);
        Assert.Equal(2, await bus.RequestAsync<int, int>("svc.add", 1, OptionsValidator.MaxTimerSpan).WithTimeout());
        Assert.Equal([3], (await bus.ScatterGatherAsync<int, int>("svc.add", 2, OptionsValidator.MaxTimerSpan).WithTimeout()).Replies);
    }

    private sealed class RecordingRequest : IPendingRequest
    {
        private PendingRequestLink _link;

        public int Expired;

        public int Disposed;

        public ref PendingRequestLink Link => ref _link;

        public void Expire() => Interlocked.Increment(ref Expired);

        public void BusDisposed() => Interlocked.Increment(ref Disposed);
    }
}
