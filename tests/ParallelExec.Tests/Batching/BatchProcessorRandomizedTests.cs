using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>
/// Seeded random interleavings of submit, post, cancel, advance-time and flush over every full mode, with and without
/// coalescing: each submission must end exactly once with the outcome its caller can explain, and the statistics must
/// add up to the same ledger.
/// </summary>
public class BatchProcessorRandomizedTests
{
    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (var seed = 1; seed <= 24; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task RandomInterleavingsKeepTheLedger(int seed)
    {
        var random = new Random(seed);
        var time = new FakeTimeProvider();
        var maxBatchSize = random.Next(1, 9);
        var delay = TimeSpan.FromMilliseconds(10);
        var mode = (QueueFullMode)(seed % 4);
        var coalesce = seed % 3 == 0;
        var dropped = 0;
        var postFailures = 0;
        var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                if (items.Any(i => i % 13 == 0))
                {
                    throw new InvalidDataException("poison");
                }

                return new ValueTask<IReadOnlyList<int>>(items.Select(i => i * 3).ToArray());
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = maxBatchSize,
                QueueCapacity = maxBatchSize * 2,
                FullMode = mode,
                Coalesce = coalesce,
                MaxDelay = delay,
                FailureMode = BatchFailureMode.Bisect,
                MaxDegreeOfParallelism = random.Next(1, 3),
                TimeProvider = time,
                OnDropped = _ => Interlocked.Increment(ref dropped),
                OnError = _ => Interlocked.Increment(ref postFailures),
            });

        var submissions = new List<(int Item, Task<int> Task, bool Cancellable)>();
        var sources = new List<CancellationTokenSource>();
        var posts = 0;
        var rejectedPosts = 0;
        for (var op = 0; op < 150; op++)
        {
            var item = coalesce ? random.Next(1, 20) : op + 1;
            switch (random.Next(10))
            {
                case < 4:
                    submissions.Add((item, processor.SubmitAsync(item).AsTask(), false));
                    break;
                case < 6:
                    var cts = new CancellationTokenSource();
                    sources.Add(cts);
                    submissions.Add((item, processor.SubmitAsync(item, cts.Token).AsTask(), true));
                    break;
                case 6:
                    var rejectedBefore = processor.GetStatistics().Ledger.Rejected;
                    var posted = processor.TryPost(item);
                    if (posted is PostResult.Accepted or PostResult.AcceptedAfterDrop)
                    {
                        posts++;
                    }
                    else if (mode == QueueFullMode.Reject)
                    {
                        Assert.Equal(PostResult.Rejected, posted);
                        Assert.Equal(rejectedBefore + 1, processor.GetStatistics().Ledger.Rejected);
                        rejectedPosts++;
                    }
                    else
                    {
                        Assert.Equal((QueueFullMode.Wait, PostResult.QueueFull), (mode, posted));
                    }

                    break;
                case 7:
                    if (sources.Count > 0)
                    {
                        await sources[random.Next(sources.Count)].CancelAsync();
                    }

                    break;
                case 8:
                    time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 12)));
                    break;
                default:
                    await processor.FlushAsync().AsTask().WithTimeout();
                    break;
            }
        }

        await processor.DisposeAsync().AsTask().WithTimeout();

        long succeeded = 0, failed = 0, cancelled = 0, droppedCallers = 0;
        foreach (var (item, task, cancellable) in submissions)
        {
            try
            {
                Assert.Equal(item * 3, await task.WithTimeout());
                Assert.NotEqual(0, item % 13);
                succeeded++;
            }
            catch (InvalidDataException)
            {
                Assert.Equal(0, item % 13);
                failed++;
            }
            catch (ItemDroppedException error)
            {
                Assert.NotEqual(QueueFullMode.Wait, mode);
                Assert.NotEqual(DropReason.DrainTimeout, error.Reason);
                droppedCallers++;
            }
            catch (OperationCanceledException)
            {
                Assert.True(cancellable);
                cancelled++;
            }
            catch (ObjectDisposedException)
            {
                // Still waiting for room when disposal stopped the intake: never accepted, so not in the ledger.
                Assert.Equal(QueueFullMode.Wait, mode);
            }
        }

        var stats = processor.GetStatistics();
        // A submitter cancelled while waiting for room (Wait mode) was never accepted: cancelled, but not in the ledger.
        Assert.True(mode == QueueFullMode.Wait ? cancelled >= stats.Ledger.Cancelled : cancelled == stats.Ledger.Cancelled, $"{cancelled} cancelled, {stats.Ledger.Cancelled} counted");
        Assert.Equal(stats.Ledger.Dropped + stats.Ledger.Rejected, dropped);
        Assert.Equal(stats.Ledger.Failed, failed + postFailures);
        Assert.True(stats.Ledger.IsBalanced, stats.ToString());
        Assert.Equal(0, stats.Ledger.InFlight);
        Assert.Equal(stats.Ledger.Submitted, succeeded + failed + stats.Ledger.Cancelled + droppedCallers + posts + rejectedPosts);
        Assert.Equal(0, stats.Ledger.Queued);
        Assert.True(succeeded <= stats.Ledger.Succeeded);
        Assert.True(droppedCallers <= stats.Ledger.Dropped + stats.Ledger.Rejected);
        foreach (var cts in sources)
        {
            cts.Dispose();
        }
    }
}
