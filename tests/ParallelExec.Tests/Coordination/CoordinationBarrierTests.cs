using Microsoft.Extensions.Time.Testing;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

public class CoordinationBarrierTests
{
    [Fact]
    public async Task The_barrier_releases_everyone_when_the_last_participant_arrives_phase_after_phase()
    {
        await using var bus = Exec.Bus().Build();
        var barrier = bus.CreateBarrier(3);

        var a = barrier.SignalAndWaitAsync();
        var b = barrier.SignalAndWaitAsync();
        await Task.Yield();
        Assert.False(a.IsCompleted || b.IsCompleted);
        Assert.Equal(2, barrier.ArrivedCount);
        var c = barrier.SignalAndWaitAsync();

        var phases = await Task.WhenAll(a, b, c).WithTimeout();
        Assert.Equal(new long[] { 0, 0, 0 }, phases);
        Assert.Equal(1, barrier.CurrentPhase);
        Assert.Equal(0, barrier.ArrivedCount);

        var phaseOne = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => barrier.SignalAndWaitAsync()))).WithTimeout();
        Assert.All(phaseOne, phase => Assert.Equal(1, phase));
    }

    [Fact]
    public async Task A_participant_that_times_out_withdraws_its_arrival()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).Build();
        var barrier = bus.CreateBarrier(2);

        var impatient = barrier.SignalAndWaitAsync(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        var exception = await Assert.ThrowsAsync<TimeoutException>(() => impatient);
        Assert.Contains("phase 0", exception.Message, StringComparison.Ordinal);
        Assert.Equal(0, barrier.ArrivedCount);

        var a = barrier.SignalAndWaitAsync();
        Assert.False(a.IsCompleted);
        var b = barrier.SignalAndWaitAsync();
        await Task.WhenAll(a, b).WithTimeout();
    }

    [Fact]
    public async Task Disposing_the_bus_fails_barrier_waiters()
    {
        var bus = Exec.Bus().Build();
        var barrier = bus.CreateBarrier(2);
        var waiting = barrier.SignalAndWaitAsync();

        await bus.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WithTimeout());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => barrier.SignalAndWaitAsync());
    }

    [Fact]
    public async Task WaitForAsync_returns_the_first_matching_message()
    {
        await using var bus = Exec.Bus().Build();

        var waiting = bus.WaitForAsync<int>("agents.*.progress", p => p >= 100, TimeSpan.FromSeconds(30));
        await bus.PublishAsync("agents.coder.progress", 50);
        await bus.PublishAsync("agents.coder.progress", "not an int");
        await bus.PublishAsync("agents.tester.progress", 100);
        await bus.PublishAsync("agents.coder.progress", 100);

        var message = await waiting.WithTimeout();
        Assert.Equal(("agents.tester.progress", 100), (message.Topic, message.Message));
        await TestTimeout.WaitUntilAsync(() => bus.SubscriptionCount == 0);
    }

    [Fact]
    public async Task WaitForAsync_times_out_on_the_injected_clock_and_unsubscribes()
    {
        var time = new FakeTimeProvider();
        await using var bus = Exec.Bus().WithTimeProvider(time).Build();

        var waiting = bus.WaitForAsync<int>("done", null, TimeSpan.FromMinutes(1));
        Assert.Equal(1, bus.SubscriptionCount);
        time.Advance(TimeSpan.FromMinutes(1));

        var exception = await Assert.ThrowsAsync<TimeoutException>(() => waiting);
        Assert.Equal("No message on \"done\" matched within 00:01:00.", exception.Message);
        Assert.Equal(0, bus.SubscriptionCount);
    }

    [Fact]
    public async Task Disposing_the_bus_fails_pending_waits_with_ObjectDisposedException()
    {
        var bus = Exec.Bus().Build();
        var waiting = bus.WaitForAsync<int>("never", null, Timeout.InfiniteTimeSpan);

        await bus.DisposeAsync().WithTimeout();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WithTimeout());
    }

    [Fact]
    public async Task Agents_coordinate_through_events_instead_of_step_by_step()
    {
        // The scenario of the issue: agents report to a coordinator over the bus; the coordinator waits on a barrier-like
        // count of "done" events rather than calling each agent in turn.
        await using var bus = Exec.Bus().Build();
        const int agents = 10;
        var agentSubscriptions = Enumerable.Range(0, agents).Select(i => bus.Subscribe<string>($"agents.{i}.start", async (m, ct) =>
        {
            await Task.Yield();
            await bus.PublishAsync($"agents.{i}.done", $"agent {i} finished {m.Message}", ct);
        })).ToList();
        var reports = bus.SubscribeStream<string>("agents.*.done");

        var started = await bus.PublishAsync("agents.all.start", "step");
        Assert.Equal(0, started.Matched);
        for (var i = 0; i < agents; i++)
        {
            await bus.PublishAsync($"agents.{i}.start", "step");
        }

        var received = new List<string>();
        await foreach (var report in reports.WithCancellation(new CancellationTokenSource(TestTimeout.Unexpected).Token))
        {
            received.Add(report.Message);
            if (received.Count == agents)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(0, agents).Select(i => $"agent {i} finished step").Order(), received.Order());
    }
}
