using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Memory;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// InMemoryStore under concurrent writers (single and bulk operations, TTLs, pre-cancelled tokens) with a concurrent
/// lister and expiry sweeper; every operation ends once and the final contents equal a per-writer model.
/// </summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class InMemoryStoreStressTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Concurrent_writers_leave_exactly_the_modelled_contents()
    {
        int totalItems = 0, totalUnaccounted = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            Ledger ledger = await RunRoundAsync(seed, StressProfile.Items);
            totalItems += ledger.Expected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "InMemoryStore", $"seed={seed} {ledger.Summary()}");
        }

        StressReport.Write(output, "InMemoryStore", $"TOTAL items={totalItems} unaccounted={totalUnaccounted}");
    }

    private static async Task<Ledger> RunRoundAsync(int seed, int operations)
    {
        const int Writers = 8;
        const int KeysPerWriter = 32;
        const string Namespace = "stress";
        var time = new FakeTimeProvider();
        var store = new InMemoryStore(new InMemoryStoreOptions { TimeProvider = time });
        var ledger = new Ledger(operations);
        string context = $"InMemoryStore seed={seed} (replay with PARALLELEXEC_SEED={seed})";
        // Per writer: key -> (value, hasTtl). Only its writer touches a key, so the model is exact.
        var models = Enumerable.Range(0, Writers).Select(_ => new Dictionary<string, (int Value, bool Ttl)>()).ToArray();
        var problems = new ConcurrentQueue<string>();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        using var stop = new CancellationTokenSource();

        async Task WriteAsync(int writer)
        {
            var random = new Random(seed * 31 + writer);
            Dictionary<string, (int Value, bool Ttl)> model = models[writer];
            for (int op = writer; op < operations; op += Writers)
            {
                string key = $"w{writer}-{random.Next(KeysPerWriter)}";
                int kind = random.Next(100);
                bool cancel = random.Next(20) == 0;
                CancellationToken token = cancel ? cancelled.Token : default;
                bool ttl = random.Next(4) == 0;
                try
                {
                    if (kind < 45)
                    {
                        await store.SetAsync(Namespace, key, BitConverter.GetBytes(op), ttl ? TimeSpan.FromHours(1) : null, token);
                        model[key] = (op, ttl);
                    }
                    else if (kind < 60)
                    {
                        string other = $"w{writer}-{random.Next(KeysPerWriter)}";
                        var entries = new[] { KeyValuePair.Create(key, (ReadOnlyMemory<byte>)BitConverter.GetBytes(op)), KeyValuePair.Create(other, (ReadOnlyMemory<byte>)BitConverter.GetBytes(op)) };
                        await store.SetManyAsync(Namespace, entries, null, token);
                        model[key] = (op, false);
                        model[other] = (op, false);
                    }
                    else if (kind < 75)
                    {
                        bool existed = await store.DeleteAsync(Namespace, key, token);
                        if (existed != model.Remove(key))
                        {
                            problems.Enqueue($"op {op}: DeleteAsync({key}) returned {existed}, model disagrees");
                        }
                    }
                    else
                    {
                        ReadOnlyMemory<byte>? value = await store.GetAsync(Namespace, key, token);
                        bool expected = model.TryGetValue(key, out var entry);
                        if (value.HasValue != expected || (expected && BitConverter.ToInt32(value!.Value.Span) != entry.Value))
                        {
                            problems.Enqueue($"op {op}: GetAsync({key}) = {(value.HasValue ? BitConverter.ToInt32(value.Value.Span) : "missing")}, model {(expected ? entry.Value : "missing")}");
                        }
                    }

                    ledger.Completed(op);
                    ledger.End(op, Outcome.Succeeded);
                }
                catch (OperationCanceledException) when (cancel)
                {
                    // Cancelled before it started: the model is unchanged, the final check proves nothing was applied.
                    ledger.End(op, Outcome.Cancelled);
                }
            }
        }

        async Task ListAndSweepAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                IReadOnlyList<string> keys = await store.ListKeysAsync(Namespace, "w");
                if (keys.Count > Writers * KeysPerWriter || keys.Distinct().Count() != keys.Count)
                {
                    problems.Enqueue($"ListKeysAsync returned {keys.Count} keys ({keys.Distinct().Count()} distinct)");
                }

                store.RemoveExpired();
                await Task.Yield();
            }
        }

        Task sweeper = Task.Run(ListAndSweepAsync);
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(w))));
        await stop.CancelAsync();
        await sweeper;

        void CheckContents(bool afterExpiry)
        {
            var expected = models.SelectMany(m => m).Where(kv => !afterExpiry || !kv.Value.Ttl).ToDictionary(kv => kv.Key, kv => kv.Value.Value);
            IReadOnlyList<string> keys = store.ListKeysAsync(Namespace).AsTask().GetAwaiter().GetResult();
            Assert.True(keys.Count == expected.Count && keys.All(expected.ContainsKey), $"{context}: store has {keys.Count} keys, model {expected.Count} (afterExpiry={afterExpiry})");
            IReadOnlyDictionary<string, ReadOnlyMemory<byte>> values = store.GetManyAsync(Namespace, expected.Keys).AsTask().GetAwaiter().GetResult();
            foreach ((string key, int value) in expected)
            {
                Assert.True(values.TryGetValue(key, out ReadOnlyMemory<byte> stored) && BitConverter.ToInt32(stored.Span) == value, $"{context}: {key} should hold {value}");
            }
        }

        CheckContents(afterExpiry: false);
        time.Advance(TimeSpan.FromHours(2));
        store.RemoveExpired();
        CheckContents(afterExpiry: true);
        Assert.True(problems.IsEmpty, $"{context}: {string.Join("; ", problems.Take(5))}");
        ledger.AssertConsistent(context);
        return ledger;
    }
}
