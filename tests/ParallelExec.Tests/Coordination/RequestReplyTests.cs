using Microsoft.Extensions.Time.Testing;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

public class RequestReplyTests
{
    [Fact]
    public async Task RequestAsync_returns_the_responders_reply()
    {
        await using var bus = Exec.Bus().Build();
        using var responder = bus.Respond<int, string>("math.square", (m, ct) => new ValueTask<string>($"{m.Message * m.Message} ({m.Topic}, request {m.IsRequest})"));

        var reply = await bus.RequestAsync<int, string>("math.square", 7).WithTimeout();

        Assert.Equal("49 (math.square, request True)", reply);
    }

    [Fact]
    public async Task RequestAsync_without_a_responder_fails_at_once()
    {
        await using var bus = Exec.Bus().Build();
        using var listener = bus.Subscribe<int>("math.square", _ => { });
        using var wrongReply = bus.Respond<int, int>("math.square", (m, ct) => new ValueTask<int>(m.Message));

        var task = bus.RequestAsync<int, string>("math.square", 7);

        Assert.True(task.IsCompleted);
        var exception = await Assert.ThrowsAsync<NoResponderException>(() => task);
        Assert.Equal("math.square", exception.Topic);
        Assert.Contains("\"math.square\"", exception.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<NoResponderException>(() => bus.ScatterGatherAsync<int, string>("math.cube", 2, TimeSpan.FromSeconds(1)));
    }

    [Theory]
    [InlineData("math..square")]
    [InlineData("math.*")]
    [InlineData("math.>")]
    [InlineData("math. square")]
    [InlineData("")]
    public async Task Requests_to_an_invalid_topic_throw_naming_the_topic_every_time(string topic)
    {
        await using var bus = Exec.Bus().Build();
        using var responder = bus.Respond<int, int>("math.>", (m, ct) => new ValueTask<int>(m.Message));

        // Twice: an invalid topic must not be cached as a route that later skips the check.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            // Thrown at the call, not through the task.
            var exception = Assert.Throws<ArgumentException>("topic", () => { _ = bus.RequestAsync<int, int>(topic, 1); });
            Assert.Contains($"\"{topic}\"", exception.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentException>("topic", () => bus.ScatterGatherAsync<int, int>(topic, 1, TimeSpan.FromSeconds(1)));
        }

        Assert.Throws<ArgumentNullException>("topic", () => { _ = bus.RequestAsync<int, int>(null!, 1); });
        Assert.Equal(2, await bus.RequestAsync<int, int>("math.add", 2).WithTimeout());
    }

    [Fact]
    public async Task RequestAsync_times_out_on_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var responder = bus.Respond<int, int>("slow", async (m, ct) =>
        {
            await gate.Task;
            return m.Message;
        });

        var request = bus.RequestAsync<int, int>("slow", 1, TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(4.9));
        await Task.Yield();
        Assert.False(request.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));

        var exception = await Assert.ThrowsAsync<TimeoutException>(() => request);
        Assert.Equal("No reply to the request on topic \"slow\" within 00:00:05.", exception.Message);
        gate.SetResult();
    }

    [Fact]
    public async Task RequestAsync_uses_the_default_timeout_and_honours_cancellation()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).WithRequestTimeout(TimeSpan.FromSeconds(2)).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var responder = bus.Respond<int, int>("slow", async (m, ct) =>
        {
            await gate.Task;
            return m.Message;
        }, new SubscriptionOptions { MaxDegreeOfParallelism = 2 });

        var timedOut = bus.RequestAsync<int, int>("slow", 1);
        using var cts = new CancellationTokenSource();
        var cancelled = bus.RequestAsync<int, int>("slow", 2, Timeout.InfiniteTimeSpan, cts.Token);
        time.Advance(TimeSpan.FromSeconds(2));
        await cts.CancelAsync();

        await Assert.ThrowsAsync<TimeoutException>(() => timedOut);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WithTimeout());
        gate.SetResult();
    }

    [Fact]
    public async Task A_failing_responder_fails_the_request_with_its_exception_and_dead_letters_it()
    {
        await using var bus = Exec.Bus().Build();
        using var responder = bus.Respond<string, int>("parse", (m, ct) => new ValueTask<int>(int.Parse(m.Message, System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(12, await bus.RequestAsync<string, int>("parse", "12").WithTimeout());
        await Assert.ThrowsAsync<FormatException>(() => bus.RequestAsync<string, int>("parse", "twelve").WithTimeout());

        Assert.True(bus.TryReadDeadLetter(out var deadLetter));
        Assert.Equal(DeadLetterReason.HandlerFailed, deadLetter.Reason);
        Assert.Equal("twelve", deadLetter.Message);
    }

    [Fact]
    public async Task A_request_rejected_by_the_only_responders_full_mailbox_fails_with_ItemDroppedException()
    {
        await using var bus = Exec.Bus().Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var responder = bus.Respond<int, int>("busy", async (m, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
            return m.Message;
        }, new SubscriptionOptions { QueueCapacity = 1, FullMode = QueueFullMode.Reject });

        var first = bus.RequestAsync<int, int>("busy", 1);
        await started.Task.WithTimeout();
        var second = bus.RequestAsync<int, int>("busy", 2);
        var third = bus.RequestAsync<int, int>("busy", 3);

        var dropped = await Assert.ThrowsAsync<ItemDroppedException>(() => third.WithTimeout());
        Assert.Equal(DropReason.Rejected, dropped.Reason);
        gate.SetResult();
        Assert.Equal(1, await first.WithTimeout());
        Assert.Equal(2, await second.WithTimeout());
    }

    [Fact]
    public async Task ScatterGather_collects_every_reply_and_the_failures()
    {
        await using var bus = Exec.Bus().Build();
        var responders = Enumerable.Range(1, 4)
            .Select(i => bus.Respond<string, int>("agents.*.estimate", (m, ct) =>
                i == 4 ? throw new InvalidOperationException("agent 4 is down") : new ValueTask<int>(i * 10)))
            .ToList();

        var result = await bus.ScatterGatherAsync<string, int>("agents.all.estimate", "task", TimeSpan.FromSeconds(30)).WithTimeout();

        Assert.Equal(4, result.Responders);
        Assert.Equal([10, 20, 30], result.Replies.Order());
        Assert.Equal("agent 4 is down", Assert.Single(result.Failures).Message);
        Assert.False(result.WindowElapsed);
    }

    [Fact]
    public async Task ScatterGather_returns_after_the_first_N_replies()
    {
        await using var bus = Exec.Bus().Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var fast1 = bus.Respond<int, string>("q", (m, ct) => new ValueTask<string>("fast1"));
        using var fast2 = bus.Respond<int, string>("q", (m, ct) => new ValueTask<string>("fast2"));
        using var slow = bus.Respond<int, string>("q", async (m, ct) =>
        {
            await gate.Task;
            return "slow";
        });

        var result = await bus.ScatterGatherAsync<int, string>("q", 0, Timeout.InfiniteTimeSpan, maxReplies: 2).WithTimeout();

        Assert.Equal(["fast1", "fast2"], result.Replies.Order());
        Assert.Equal(3, result.Responders);
        Assert.False(result.WindowElapsed);
        gate.SetResult();
    }

    [Fact]
    public async Task ScatterGather_returns_what_arrived_when_the_window_ends()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var fast = bus.Respond<int, string>("q", (m, ct) => new ValueTask<string>("fast"));
        using var slow = bus.Respond<int, string>("q", async (m, ct) =>
        {
            await gate.Task;
            return "slow";
        });

        var gathering = bus.ScatterGatherAsync<int, string>("q", 0, TimeSpan.FromSeconds(1));
        await TestTimeout.WaitUntilAsync(() => fast.Ledger.Succeeded == 1);
        time.Advance(TimeSpan.FromSeconds(1));
        var result = await gathering.WithTimeout();

        Assert.Equal(["fast"], result.Replies);
        Assert.Empty(result.Failures);
        Assert.True(result.WindowElapsed);
        gate.SetResult();
    }
}
