using System.Collections.Concurrent;
using CsCheck;
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
    /// <summary>What one operation does.</summary>
    public enum Op : byte
    {
        /// <summary>SetAsync of one key.</summary>
        Set,
        /// <summary>SetManyAsync of two keys.</summary>
        SetMany,
        /// <summary>DeleteAsync of one key.</summary>
        Delete,
        /// <summary>GetAsync of one key, checked against the model.</summary>
        Get,
    }

    /// <summary>One operation of a generated schedule (operation <c>i</c> belongs to writer <c>i % 8</c>).</summary>
    /// <param name="Op">What it does.</param>
    /// <param name="Key">Its key index within its writer's keys.</param>
    /// <param name="OtherKey">The second key of a SetMany.</param>
    /// <param name="Cancelled">Whether it carries an already-cancelled token.</param>
    /// <param name="Ttl">Whether a Set gives the entry a time to live.</param>
    public readonly record struct Operation(Op Op, byte Key, byte OtherKey, bool Cancelled, bool Ttl);

    private const int KeysPerWriter = 32;

    private static readonly Gen<Operation> OperationGen =
        from op in StressGen.Frequency((45, Op.Set), (15, Op.SetMany), (15, Op.Delete), (25, Op.Get))
        from key in Gen.Byte[0, KeysPerWriter - 1]
        from other in Gen.Byte[0, KeysPerWriter - 1]
        from cancelled in Gen.Int[0, 19].Select(i => i == 0)
        from ttl in Gen.Int[0, 3].Select(i => i == 0)
        select new Operation(op, key, other, cancelled, ttl);

    /// <summary>One round: the operations, and when the store is disposed under the writers (0: not disposed; the contents are then checked against the model).</summary>
    public sealed record Schedule(Operation[] Operations, double DisposeAt);

    private static readonly Gen<Schedule> ScheduleGen =
        from operations in OperationGen.Array[StressProfile.Items]
        from dispose in Gen.Bool
        from at in StressGen.DisposePoint
        select new Schedule(operations, dispose ? at : 0);

    private static string Describe(Schedule schedule)
    {
        Operation[] s = schedule.Operations;
        return $"operations={s.Length} disposeAt={schedule.DisposeAt:P0} ops[{StressGen.Histogram(s.Select(o => o.Op))}] cancelled={s.Count(o => o.Cancelled)} ttl={s.Count(o => o.Ttl)}";
    }

    [Fact]
    public async Task Concurrent_writers_leave_exactly_the_modelled_contents()
    {
        var retained = new RetainedAcrossRounds();
        var totals = new StressTotals(output, "InMemoryStore");
        await StressRun.RoundsAsync("InMemoryStore", ScheduleGen, async (schedule, seed) =>
        {
            Ledger ledger = await RunRoundAsync(schedule, seed);
            totals.Cover(schedule.DisposeAt > 0);
            totals.Add(ledger, $"seed={seed} disposeAt={schedule.DisposeAt:P0} {ledger.Summary()}");
        }, Describe, (s, r) => s.DisposeAt > 0 == (r % 2 == 1), retained);

        totals.WriteTotal(StressProfile.Million);
        totals.AssertCoveredEvery(2, "round kind (disposed mid-flight or not)");
        await retained.AssertBoundedAsync(output, "InMemoryStore", WorkerPoolStressTests.RetainedBound);
    }

    [Fact]
    public async Task Memory_per_operation_stays_bounded()
    {
        var store = new InMemoryStore(new InMemoryStoreOptions());
        // Keys and values exist before the measurement: they are the caller's data. 1 024 keys overwritten again and
        // again, so the store's size is steady and any growth is a leak.
        string[] keys = Enumerable.Range(0, 1024).Select(k => $"k{k}").ToArray();
        byte[] value = new byte[16];
        MemoryFigures figures = await MemoryProbe.MeasureAsync(async id =>
        {
            string key = keys[id % keys.Length];
            switch (id % 4)
            {
                case 0:
                case 1:
                    await store.SetAsync("memory", key, value);
                    return 0;
                case 2:
                    return (await store.GetAsync("memory", key)).HasValue ? 1 : 0;
                default:
                    return await store.DeleteAsync("memory", key) ? 1 : 0;
            }
        });
        MemoryProbe.AssertBounded(output, "InMemoryStore", figures, maxBytesPerItem: 128, maxRetainedGrowth: MemoryProbe.RetainedGrowthBound);
    }

    private static async Task<Ledger> RunRoundAsync(Schedule round, string seed)
    {
        Operation[] schedule = round.Operations;
        int disposeAfter = round.DisposeAt > 0 ? (int)(schedule.Length * round.DisposeAt) : -1;
        int ended = 0;
        bool disposing = false;
        const int Writers = 8;
        int operations = schedule.Length;
        const string Namespace = "stress";
        var time = new FakeTimeProvider();
        var store = new InMemoryStore(new InMemoryStoreOptions { TimeProvider = time });
        RetainedAcrossRounds.Track(store);
        var ledger = new Ledger(operations);
        string context = $"InMemoryStore seed={seed} (replay with PARALLELEXEC_SEED={seed})";
        // Per writer: key -> (value, hasTtl). Only its writer touches a key, so the model is exact.
        var models = Enumerable.Range(0, Writers).Select(_ => new Dictionary<string, (int Value, bool Ttl)>()).ToArray();
        var problems = new ConcurrentQueue<string>();
        // The keys are made once per round: no per-operation strings besides the values, which are the caller's data.
        string[][] keyNames = Enumerable.Range(0, Writers).Select(w => Enumerable.Range(0, KeysPerWriter).Select(k => $"w{w}-{k}").ToArray()).ToArray();
        using var stop = new CancellationTokenSource();

        async Task WriteAsync(int writer)
        {
            Dictionary<string, (int Value, bool Ttl)> model = models[writer];
            for (int op = writer; op < operations; op += Writers)
            {
                Operation operation = schedule[op];
                string key = keyNames[writer][operation.Key];
                bool cancel = operation.Cancelled;
                CancellationToken token = ledger.Token(op, cancel ? CancelKind.Before : CancelKind.None, 0);
                bool ttl = operation.Ttl;
                try
                {
                    if (operation.Op == Op.Set)
                    {
                        await store.SetAsync(Namespace, key, BitConverter.GetBytes(op), ttl ? TimeSpan.FromHours(1) : null, token);
                        model[key] = (op, ttl);
                    }
                    else if (operation.Op == Op.SetMany)
                    {
                        string other = keyNames[writer][operation.OtherKey];
                        var entries = new[] { KeyValuePair.Create(key, (ReadOnlyMemory<byte>)BitConverter.GetBytes(op)), KeyValuePair.Create(other, (ReadOnlyMemory<byte>)BitConverter.GetBytes(op)) };
                        await store.SetManyAsync(Namespace, entries, null, token);
                        model[key] = (op, false);
                        model[other] = (op, false);
                    }
                    else if (operation.Op == Op.Delete)
                    {
                        bool existed = await store.DeleteAsync(Namespace, key, token);
                        // Once disposal began the store may have dropped its entries under a call in progress: only
                        // a call that completed before it is held to the model.
                        if (existed != model.Remove(key) && !Volatile.Read(ref disposing))
                        {
                            problems.Enqueue($"op {op}: DeleteAsync({key}) returned {existed}, model disagrees");
                        }
                    }
                    else
                    {
                        ReadOnlyMemory<byte>? value = await store.GetAsync(Namespace, key, token);
                        bool expected = model.TryGetValue(key, out var entry);
                        if ((value.HasValue != expected || (expected && BitConverter.ToInt32(value!.Value.Span) != entry.Value)) && !Volatile.Read(ref disposing))
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
                catch (ObjectDisposedException) when (disposeAfter >= 0)
                {
                    ledger.End(op, Outcome.Refused);
                }

                if (Interlocked.Increment(ref ended) == disposeAfter)
                {
                    // Disposed mid-flight, from a writer: the other writers are inside their calls.
                    Volatile.Write(ref disposing, true);
                    await store.DisposeAsync();
                }
            }
        }

        async Task ListAndSweepAsync()
        {
            while (!stop.IsCancellationRequested && !Volatile.Read(ref disposing))
            {
                IReadOnlyList<string> keys;
                try
                {
                    keys = await store.ListKeysAsync(Namespace, "w");
                    store.RemoveExpired();
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                if (keys.Count > Writers * KeysPerWriter || keys.Distinct().Count() != keys.Count)
                {
                    problems.Enqueue($"ListKeysAsync returned {keys.Count} keys ({keys.Distinct().Count()} distinct)");
                }

                await Task.Yield();
            }
        }

        Task sweeper = Task.Run(ListAndSweepAsync);
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(w))));
        await stop.CancelAsync();
        await sweeper;

        // The store's own ledger counts every key of every operation once, by outcome (listings carry no key).
        // A refused operation (after disposal) never reached it.
        long keysOf(Operation o) => o.Op == Op.SetMany ? 2 : 1;
        long succeededKeys = 0, cancelledKeys = 0;
        for (int op = 0; op < operations; op++)
        {
            Outcome? outcome = ledger.OutcomeOf(op);
            succeededKeys += outcome == Outcome.Succeeded ? keysOf(schedule[op]) : 0;
            cancelledKeys += outcome == Outcome.Cancelled ? keysOf(schedule[op]) : 0;
        }

        Assert.Equal(new LedgerSnapshot { Submitted = succeededKeys + cancelledKeys, Succeeded = succeededKeys, Cancelled = cancelledKeys }, store.GetStatistics().Ledger);
        if (disposeAfter >= 0)
        {
            // Disposed: its entries are gone; what is checked is that every operation ended once (below) and the
            // operations that completed before the disposal agreed with the model (above).
            Assert.True(problems.IsEmpty, $"{context}: {string.Join("; ", problems.Take(5))}");
            Assert.True(ledger.Count(Outcome.Refused) > 0, $"{context}: disposed at {round.DisposeAt:P0} but no operation was refused");
            ledger.AssertConsistent(context);
            ledger.DisposeSources();
            return ledger;
        }

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
        ledger.DisposeSources();
        return ledger;
    }
}
