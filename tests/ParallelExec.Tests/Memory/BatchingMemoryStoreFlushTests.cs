using System.Text;
using ParallelExec.Memory;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Memory;

/// <summary>
/// When a batch goes: Complete() sends what is buffered (Completion ends once it is in the inner store, never after
/// MaxDelay), a lone caller does not wait for company, and options that would exhaust memory are refused.
/// </summary>
public sealed class BatchingMemoryStoreFlushTests
{
    [Fact]
    public async Task Complete_sends_the_buffered_writes_and_Completion_ends_once_the_inner_store_has_them()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        inner.Hold = hold.Task;
        // MaxDelay of an hour: nothing but Complete() (or the running batch's end) may send the gathered writes.
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 100, MaxDelay = TimeSpan.FromHours(1) });

        var first = store.SetAsync("ns", "first", Bytes("1")).AsTask();
        await TestTimeout.WaitUntilAsync(() => inner.SetManyCalls.Count == 1);
        var buffered = Enumerable.Range(0, 10).Select(i => store.SetAsync("ns", $"k{i}", Bytes($"v{i}")).AsTask()).ToArray();

        store.Complete();
        Assert.False(store.Completion.IsCompleted);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.SetAsync("ns", "late", Bytes("x")));

        hold.SetResult();
        await store.Completion.WithTimeout();

        // Completion ended: every accepted write is in the inner store and every caller has its answer.
        Assert.True(first.IsCompletedSuccessfully);
        Assert.All(buffered, w => Assert.True(w.IsCompletedSuccessfully));
        Assert.Equal(["first", .. Enumerable.Range(0, 10).Select(i => $"k{i}")], (await inner.Inner.ListKeysAsync("ns")).Order(StringComparer.Ordinal));
        Assert.Equal(new LedgerSnapshot { Submitted = 11, Succeeded = 11 }, store.GetStatistics().Ledger);
    }

    [Fact]
    public async Task Complete_with_nothing_running_sends_the_open_batch_at_once()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        inner.Hold = hold.Task;
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 100, MaxDelay = TimeSpan.FromHours(1), MaxDegreeOfParallelism = 1 });

        // Reads gather behind a held read batch; writes are a separate batcher with nothing running.
        var heldRead = store.GetAsync("ns", "held").AsTask();
        await TestTimeout.WaitUntilAsync(() => inner.GetManyCalls.Count == 1);
        var reads = Enumerable.Range(0, 5).Select(i => store.GetAsync("ns", $"r{i}").AsTask()).ToArray();
        Assert.Single(inner.GetManyCalls);

        store.Complete();
        hold.SetResult();

        await Task.WhenAll(reads.Append(heldRead)).WithTimeout();
        await store.Completion.WithTimeout();
        Assert.Equal(2, inner.GetManyCalls.Count);
    }

    [Fact]
    public async Task A_lone_caller_does_not_wait_for_MaxDelay()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 64, MaxDelay = TimeSpan.FromHours(1) });

        await store.SetAsync("ns", "k", Bytes("v")).WithTimeout();
        Assert.Equal("v", Encoding.UTF8.GetString((await store.GetAsync("ns", "k").WithTimeout())!.Value.Span));

        Assert.Equal([["k"]], inner.SetManyCalls);
        Assert.Equal([["k"]], inner.GetManyCalls);
    }

    [Theory]
    [InlineData(nameof(BatchingMemoryStoreOptions.MaxBatchSize), "MaxBatchSize = 2147483647: must be between 1 and 65536")]
    [InlineData(nameof(BatchingMemoryStoreOptions.QueueCapacity), "QueueCapacity = 2147483647: must be at least MaxBatchSize and at most 1048576")]
    [InlineData(nameof(BatchingMemoryStoreOptions.ReadCacheCapacity), "ReadCacheCapacity = 2147483647: must be between 1 and 16777216")]
    [InlineData(nameof(BatchingMemoryStoreOptions.MaxDegreeOfParallelism), "MaxDegreeOfParallelism = 2147483647: must be between 1 and 1024")]
    public void Values_that_would_exhaust_memory_are_refused_naming_the_option_and_value(string option, string expected)
    {
        var options = new BatchingMemoryStoreOptions();
        typeof(BatchingMemoryStoreOptions).GetProperty(option)!.SetValue(options, int.MaxValue);
        if (option == nameof(BatchingMemoryStoreOptions.MaxBatchSize))
        {
            options.QueueCapacity = 1_048_576;
        }

        var ex = Assert.Throws<ArgumentException>(() => new BatchingMemoryStore(new InMemoryStore(), options));
        Assert.Contains(expected, ex.Message);
        Assert.Equal(option, ex.ParamName);
    }

    private static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
