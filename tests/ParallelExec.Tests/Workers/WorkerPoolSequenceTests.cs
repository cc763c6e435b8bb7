using System.Runtime.CompilerServices;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

public class WorkerPoolSequenceTests
{
    private static async Task<List<T>> CollectAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }

    private static async IAsyncEnumerable<int> RangeAsync(int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return i;
        }
    }

    [Fact]
    public async Task InputOrderKeepsTheSourceOrderEvenWhenLaterItemsFinishFirst()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(4).Build();
        var gates = Enumerable.Range(0, 8).Select(_ => new Gate()).ToArray();

        var run = CollectAsync(pool.ProcessAsync(Enumerable.Range(0, 8), async (i, ct) =>
        {
            if (i < 4)
            {
                await gates[i].WaitAsync(ct); // the first items finish last
            }

            return i * 10;
        }));
        for (var i = 3; i >= 0; i--)
        {
            gates[i].Open();
        }

        Assert.Equal(Enumerable.Range(0, 8).Select(i => i * 10), await run.WithTimeout());
    }

    [Fact]
    public async Task CompletionOrderYieldsAsItemsFinish()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).Build();
        var slow = new Gate();

        var results = new List<int>();
        await foreach (var result in pool.ProcessAsync(RangeAsync(3), async (i, ct) =>
        {
            if (i == 0)
            {
                await slow.WaitAsync(ct);
            }

            return i;
        }, ResultOrder.Completion))
        {
            results.Add(result);
            if (results.Count == 2)
            {
                slow.Open();
            }
        }

        Assert.Equal([1, 2, 0], results);
    }

    [Fact]
    public async Task AFailureStopsTheRunAndReportsOnlyRealFailures()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(4).Build();
        var started = 0;

        var error = await Assert.ThrowsAsync<AggregateException>(() => CollectAsync(pool.ProcessAsync(Enumerable.Range(0, 1000), async (i, ct) =>
        {
            Interlocked.Increment(ref started);
            if (i == 1)
            {
                throw new InvalidOperationException("item 1"); // among the first four, which get the four workers
            }

            await Task.Delay(Timeout.Infinite, ct); // the others only end through the cancellation the failure causes
            return i;
        }))).WithTimeout();

        var only = Assert.Single(error.InnerExceptions);
        Assert.Equal("item 1", only.Message);
        Assert.True(started < 1000);
        var stats = pool.GetStatistics();
        Assert.Equal(0, stats.Ledger.InFlight + stats.Ledger.Queued);
    }

    [Fact]
    public async Task StoppingEarlyCancelsTheItemsInFlight()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).Build();
        var cancelled = 0;
        await foreach (var result in pool.ProcessAsync(Enumerable.Range(0, 100), async (i, ct) =>
        {
            if (i == 0)
            {
                return i;
            }

            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelled);
                throw;
            }

            return i;
        }))
        {
            Assert.Equal(0, result);
            break;
        }

        var stats = pool.GetStatistics();
        Assert.Equal(0, stats.Ledger.InFlight + stats.Ledger.Queued);
        Assert.True(cancelled >= 1);
    }

    [Fact]
    public async Task ForEachAsyncReturnsResultsInInputOrder()
    {
        var results = await Exec.ForEachAsync(Enumerable.Range(0, 200), 8, async (i, ct) =>
        {
            await Task.Yield();
            return i * 2;
        }).WithTimeout();

        Assert.Equal(Enumerable.Range(0, 200).Select(i => i * 2), results);
        Assert.Equal(new[] { 0, 1, 2 }, await Exec.ForEachAsync(RangeAsync(3), 2, (i, _) => ValueTask.FromResult(i)).WithTimeout());
    }

    [Fact]
    public async Task TheReadmeQuickStartShapeCompilesAndRuns()
    {
        var urls = new[] { "a", "b", "c" };
        string[] pages = await Exec.ForEachAsync(urls, maxDegreeOfParallelism: 16,
            async (url, ct) => await Task.FromResult(url.ToUpperInvariant()));

        Assert.Equal(["A", "B", "C"], pages);
    }

    [Fact]
    public async Task ForEachAsyncReportsEveryRealFailureButNotTheCancellationsItCaused()
    {
        var bothFailing = new CountdownEvent(2);
        var error = await Assert.ThrowsAsync<AggregateException>(() => Exec.ForEachAsync(Enumerable.Range(0, 50), 4, async (i, ct) =>
        {
            if (i is 1 or 2)
            {
                // Both failures happen before either is observed, so both are real and both are reported.
                bothFailing.Signal();
                await Task.Run(() => bothFailing.Wait(TestTimeout.Unexpected), CancellationToken.None);
                throw new InvalidOperationException($"item {i}");
            }

            await Task.Delay(Timeout.Infinite, ct);
            return i;
        })).WithTimeout();

        Assert.Equal(["item 1", "item 2"], error.InnerExceptions.Select(e => e.Message).Order());
        bothFailing.Dispose();
    }

    [Fact]
    public async Task ForEachAsyncHonoursTheCallersToken()
    {
        using var cts = new CancellationTokenSource();
        var started = new Gate();
        var run = Exec.ForEachAsync(Enumerable.Range(0, 10), 2, async (i, ct) =>
        {
            started.Open();
            await Task.Delay(Timeout.Infinite, ct);
            return i;
        }, cts.Token);
        await started.Task.WithTimeout();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run).WithTimeout();
    }

    [Fact]
    public async Task ForEachAsyncValidatesItsArguments()
    {
        Assert.Equal("maxDegreeOfParallelism", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => Exec.ForEachAsync(new[] { 1 }, 0, (i, _) => ValueTask.FromResult(i)))).ParamName);
        Assert.Equal("body", (await Assert.ThrowsAsync<ArgumentNullException>(
            () => Exec.ForEachAsync<int, int>(new[] { 1 }, 1, null!))).ParamName);
        Assert.Equal("items", (await Assert.ThrowsAsync<ArgumentNullException>(
            () => Exec.ForEachAsync((IEnumerable<int>)null!, 1, (i, _) => ValueTask.FromResult(i)))).ParamName);
    }
}
