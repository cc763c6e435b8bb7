using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ParallelExec.Coordination;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests;

public sealed class LoggingTests
{
    [Fact]
    public async Task Drops_failures_and_throwing_callbacks_are_logged_with_event_ids_and_structured_fields()
    {
        var userDrops = 0;
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = TestHosts.Build(pe => pe.AddWorkerPool("ingest", pool => pool
            .WithMaxDegreeOfParallelism(1)
            .WithQueue(1, QueueFullMode.Reject)
            .OnDropped(_ =>
            {
                Interlocked.Increment(ref userDrops);
                throw new InvalidOperationException("the user's callback broke");
            })
            .OnError(_ => failed.TrySetResult())));
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");

        var blocker = await Blocker.OccupyAsync(pool, "blocker");
        Assert.Equal(PostResult.Accepted, pool.TryPost("bad", _ => throw new FormatException("bad document")));
        Assert.Equal(PostResult.Rejected, pool.TryPost("refused", _ => ValueTask.CompletedTask));
        blocker.Release();

        // The hosting layer logs first, then calls the user's callback: once it has run, the event is recorded.
        await failed.Task.WithTimeout();

        var records = host.Logs().GetSnapshot();
        var drop = Assert.Single(records, r => r.Id.Name == "ItemDropped");
        Assert.Equal(2, drop.Id.Id);
        Assert.Equal(LogLevel.Warning, drop.Level);
        Assert.Equal("ParallelExec.WorkerPool", drop.Category);
        Assert.Equal("WorkerPool", drop.GetStructuredStateValue("Component"));
        Assert.Equal("ingest", drop.GetStructuredStateValue("Name"));
        Assert.Equal("Rejected", drop.GetStructuredStateValue("Reason"));
        Assert.Equal("refused", drop.GetStructuredStateValue("Key"));

        // The user's callback ran and threw: its exception is logged instead of vanishing into a span.
        Assert.Equal(1, userDrops);
        var callback = Assert.Single(records, r => r.Id.Name == "CallbackFailed");
        Assert.Equal(4, callback.Id.Id);
        Assert.Equal("OnDropped", callback.GetStructuredStateValue("Callback"));
        Assert.Equal("the user's callback broke", callback.Exception?.Message);

        var failure = Assert.Single(records, r => r.Id.Name == "ItemFailed");
        Assert.Equal(3, failure.Id.Id);
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.IsType<FormatException>(failure.Exception);
        Assert.Equal("bad", failure.GetStructuredStateValue("Key"));
        await host.StopAsync().WithTimeout();

        Assert.Contains(host.Logs().GetSnapshot(), r => r.Id.Name == "ComponentDrained" && r.Id.Id == 11);
    }

    [Fact]
    public async Task Dead_letters_of_the_bus_are_logged_and_still_reach_the_users_callback()
    {
        var seen = new TaskCompletionSource<DeadLetter>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = TestHosts.Build(pe => pe.AddCoordinationBus("events", bus => bus.OnDeadLetter(letter => seen.TrySetResult(letter))));
        await host.StartAsync().WithTimeout();
        var bus = host.Services.GetRequiredKeyedService<CoordinationBus>("events");
        bus.Subscribe<string>("orders", _ => throw new InvalidOperationException("handler down"));
        await bus.PublishAsync("orders", "order-1").AsTask().WithTimeout();

        var letter = await seen.Task.WithTimeout();
        Assert.Equal(DeadLetterReason.HandlerFailed, letter.Reason);
        var record = Assert.Single(host.Logs().GetSnapshot(), r => r.Id.Name == "MessageDeadLettered");
        Assert.Equal(5, record.Id.Id);
        Assert.Equal("orders", record.GetStructuredStateValue("Topic"));
        Assert.Equal("handler down", record.Exception?.Message);
        await host.StopAsync().WithTimeout();
    }
}
