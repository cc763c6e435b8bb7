using Microsoft.Coyote.Specifications;
using ParallelExec.Coordination;
using ParallelExec.Coyote.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Coordination;

/// <summary>
/// CoordinationBus.Complete and a zero-drain-timeout DisposeAsync racing publishers under Coyote. Each interleaving
/// checks the ledger by message: a refused publish ends nowhere; an accepted delivery ends exactly once, handled or
/// dropped with DropReason.DrainTimeout (queued, or running when the timeout cancelled it); a delivery whose
/// subscription closed before taking it is a dead letter; and afterwards the bus's ledger balances with nothing queued
/// or in flight, and Completion has ended.
/// </summary>
public sealed class CoordinationBusDrainInterleavingTests(ITestOutputHelper output)
{
    private const string Topic = "coyote.drain";
    private static readonly string[] Endings = ["handled", "dropped", "dead-letter", "refused"];

    [Fact]
    public void Complete_and_a_zero_drain_timeout_racing_PublishAsync_end_every_delivery_exactly_once() =>
        CoyoteExplorer.AssertNoBug(output, "CoordinationBus.CompleteAndDrainTimeoutVsPublish", ExploreAsync, iterations: 120, seed: 302);

    private static async Task ExploreAsync()
    {
        var ledger = new Ledger();
        var accepted = new Dictionary<int, int>();
        var bus = new CoordinationBus(new CoordinationBusOptions
        {
            Name = "coyote-drain",
            QueueCapacity = 4,
            DrainTimeout = TimeSpan.Zero,
            OnDropped = dropped =>
            {
                Specification.Assert(dropped.Reason == DropReason.DrainTimeout, "unexpected drop reason {0}", dropped.Reason);
                ledger.Record((int)dropped.Item!, "dropped");
            },
            OnDeadLetter = deadLetter =>
            {
                Specification.Assert(deadLetter.Reason == DeadLetterReason.NoSubscribers, "unexpected dead letter {0} {1}", deadLetter, deadLetter.Exception);
                ledger.Record((int)deadLetter.Message!, "dead-letter");
            },
        });
        bus.Subscribe<int>(Topic, async (message, ct) =>
        {
            await Task.Yield();
            ct.ThrowIfCancellationRequested();
            ledger.Record(message.Message, "handled");
        });

        async Task PublishAsync(int id)
        {
            try
            {
                var result = await bus.PublishAsync(Topic, id);
                lock (accepted)
                {
                    accepted[id] = result.Accepted;
                }
            }
            catch (Exception exception) when (exception is InvalidOperationException)
            {
                // ObjectDisposedException derives from InvalidOperationException: both say publishing has stopped.
                ledger.Record(id, "refused");
            }
        }

        var first = Task.Run(async () =>
        {
            await PublishAsync(1);
            await PublishAsync(2);
        });
        var second = Task.Run(async () =>
        {
            await PublishAsync(3);
            await PublishAsync(4);
        });
        var stopper = Task.Run(async () =>
        {
            await Task.Yield();
            bus.Complete();
            await bus.DisposeAsync();
        });

        await Task.WhenAll(first, second, stopper);
        await bus.Completion;

        for (var id = 1; id <= 4; id++)
        {
            int? took;
            lock (accepted)
            {
                took = accepted.TryGetValue(id, out var count) ? count : null;
            }

            if (took is null)
            {
                ledger.AssertExactly(id, Endings, "refused");
            }
            else if (took == 0)
            {
                ledger.AssertExactly(id, Endings, "dead-letter");
            }
            else
            {
                var ended = ledger.Count(id, "handled") + ledger.Count(id, "dropped");
                Specification.Assert(ended == 1 && ledger.Count(id, "refused") + ledger.Count(id, "dead-letter") == 0,
                    "delivery {0} ended {1} times; {2}", id, ended, ledger.DescribeAll());
            }
        }

        var statistics = bus.GetStatistics().Ledger;
        Specification.Assert(statistics.IsBalanced && statistics.Queued == 0 && statistics.InFlight == 0, "ledger after dispose: {0}", statistics);
        Specification.Assert(statistics.Succeeded == ledger.Total("handled") && statistics.Dropped == ledger.Total("dropped"),
            "ledger {0} but handled {1}, dropped {2}", statistics, ledger.Total("handled"), ledger.Total("dropped"));
    }
}
