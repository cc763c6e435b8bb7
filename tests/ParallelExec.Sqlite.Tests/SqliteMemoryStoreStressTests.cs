using System.Collections.Concurrent;
using CsCheck;
using Microsoft.Data.Sqlite;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Tests.Reliability;
using Xunit.Abstractions;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// SqliteMemoryStore on a real database file under concurrent writers and readers (Set, SetMany, Delete, Get,
/// GetMany), cancellations, failures injected inside bulk-write transactions, and a second connection that takes the
/// write lock at times: every operation ends exactly once, a failed or cancelled operation applies nothing, reads see
/// the model, and the final contents (also after reopening the file) equal the model.
/// </summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class SqliteMemoryStoreStressTests(ITestOutputHelper output) : IDisposable
{
    private const int Writers = 8;
    private const int KeysPerWriter = 16;
    private const string Namespace = "stress";

    private readonly SqliteTestDatabase _database = new();

    /// <summary>What one operation does.</summary>
    public enum Op : byte
    {
        /// <summary>SetAsync of one key.</summary>
        Set,
        /// <summary>SetManyAsync of two to four keys in one transaction.</summary>
        SetMany,
        /// <summary>DeleteAsync of one key.</summary>
        Delete,
        /// <summary>GetAsync of one key, checked against the model.</summary>
        Get,
        /// <summary>GetManyAsync of several keys, checked against the model.</summary>
        GetMany,
    }

    /// <summary>One operation (operation <c>i</c> belongs to writer <c>i % 8</c>, which alone touches its keys).</summary>
    /// <param name="Op">What it does.</param>
    /// <param name="Keys">Its key indexes within its writer's keys (the first for single-key operations).</param>
    /// <param name="Cancel">How its caller cancels it.</param>
    /// <param name="CancelDelayMs">The delay of <see cref="CancelKind.AfterDelay"/>.</param>
    /// <param name="FailAtRow">For SetMany: an injected failure after this row is written inside the transaction (-1: none).</param>
    public readonly record struct Operation(Op Op, byte[] Keys, CancelKind Cancel, byte CancelDelayMs, sbyte FailAtRow);

    /// <summary>One round: the operations and the lock windows of the second connection (milliseconds held, then released).</summary>
    public sealed record Schedule(Operation[] Operations, byte[] LockHoldsMs);

    private static readonly Gen<Operation> OperationGen =
        from op in StressGen.Frequency((35, Op.Set), (20, Op.SetMany), (15, Op.Delete), (15, Op.Get), (15, Op.GetMany))
        from keys in Gen.Byte[0, KeysPerWriter - 1].Array[2, 4].Select(k => k.Distinct().ToArray())
        from cancel in StressGen.Frequency((88, CancelKind.None), (5, CancelKind.Before), (7, CancelKind.AfterDelay))
        from delay in Gen.Byte[0, 2]
        from fail in Gen.Int[0, 99].Select(i => i < 8)
        select new Operation(op, keys, cancel, delay, op == Op.SetMany && fail ? (sbyte)(keys.Length / 2) : (sbyte)-1);

    private static readonly Gen<Schedule> ScheduleGen =
        from operations in OperationGen.Array[StressProfile.Operations / StressProfile.Rounds]
        from holds in Gen.Byte[1, 8].Array[64]
        select new Schedule(operations, holds);

    private static string Describe(Schedule s) =>
        $"operations={s.Operations.Length} ops[{StressGen.Histogram(s.Operations.Select(o => o.Op))}] cancel[{StressGen.Histogram(s.Operations.Select(o => o.Cancel))}] " +
        $"injectedFailures={s.Operations.Count(o => o.FailAtRow >= 0)} lockWindows={s.LockHoldsMs.Length}";

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Concurrent_operations_leave_exactly_the_modelled_contents()
    {
        var totals = new StressTotals(output, "SqliteMemoryStore");
        long totalLocks = 0, totalBusyRetries = 0;
        await StressRun.RoundsAsync("SqliteMemoryStore", ScheduleGen, async (schedule, seed) =>
        {
            (Ledger ledger, int locks, long busyRetries) = await RunRoundAsync(schedule, seed);
            totalLocks += locks;
            totalBusyRetries += busyRetries;
            totals.Add(ledger, $"seed={seed} {ledger.Summary()} lockWindowsTaken={locks} busyRetries={busyRetries}");
        }, Describe);

        totals.WriteTotal(StressProfile.Operations, $"lockWindowsTaken={totalLocks} busyRetries={totalBusyRetries}");
    }

    private async Task<(Ledger Ledger, int Locks, long BusyRetries)> RunRoundAsync(Schedule schedule, string seed)
    {
        Operation[] operations = schedule.Operations;
        string context = $"SqliteMemoryStore seed={seed} (replay with PARALLELEXEC_SEED={seed})";
        string path = _database.NewPath();
        var ledger = new Ledger(operations.Length);
        var models = Enumerable.Range(0, Writers).Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToArray();
        var problems = new ConcurrentQueue<string>();
        var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = path, MaxBusyRetries = 20, BusyRetryDelay = TimeSpan.FromMilliseconds(2) });
        await store.SetAsync(Namespace, "schema", new byte[] { 1 });

        // Only one operation runs on the store's connection at a time, so the operation whose transaction calls the seam
        // is the one that armed it: the seam throws for the armed operation at its scheduled row.
        int armed = -1;
        store.AfterBulkRowWritten = row =>
        {
            int id = Volatile.Read(ref armed);
            if (id >= 0 && operations[id].FailAtRow == row)
            {
                throw ledger.Fault(id);
            }
        };
        using var bulkGate = new SemaphoreSlim(1, 1);

        async Task WriteAsync(int writer)
        {
            Dictionary<string, int> model = models[writer];
            for (int id = writer; id < operations.Length; id += Writers)
            {
                Operation operation = operations[id];
                string Key(int index) => $"w{writer}-{operation.Keys[index]}";
                CancellationToken token = ledger.Token(id, operation.Cancel, operation.CancelDelayMs);
                try
                {
                    ledger.Started(id);
                    switch (operation.Op)
                    {
                        case Op.Set:
                            await store.SetAsync(Namespace, Key(0), BitConverter.GetBytes(id), null, token);
                            model[Key(0)] = id;
                            break;
                        case Op.SetMany:
                            var entries = operation.Keys.Select((_, i) => KeyValuePair.Create(Key(i), (ReadOnlyMemory<byte>)BitConverter.GetBytes(id))).ToArray();
                            // Bulk writes are serialized among themselves so the seam knows whose transaction it is in
                            // (see above); single operations still interleave with them on the store's connection.
                            // The gate must really be held: WaitAsync(TimeSpan) returns false on timeout, and a writer that
                            // went on without it armed the seam inside another writer's transaction (a CI run under load
                            // waited over 30 s here: eight writers, an unfair semaphore, a 39 s round). A hang still fails.
                            await bulkGate.WaitAsync().WithTimeout(TimeSpan.FromMinutes(5));
                            try
                            {
                                Volatile.Write(ref armed, id);
                                await store.SetManyAsync(Namespace, entries, null, token);
                            }
                            finally
                            {
                                Volatile.Write(ref armed, -1);
                                bulkGate.Release();
                            }

                            foreach (KeyValuePair<string, ReadOnlyMemory<byte>> entry in entries)
                            {
                                model[entry.Key] = id;
                            }

                            break;
                        case Op.Delete:
                            bool existed = await store.DeleteAsync(Namespace, Key(0), token);
                            if (existed != model.Remove(Key(0)))
                            {
                                problems.Enqueue($"op {id}: DeleteAsync({Key(0)}) returned {existed}, model disagrees");
                            }

                            break;
                        case Op.Get:
                            ReadOnlyMemory<byte>? value = await store.GetAsync(Namespace, Key(0), token);
                            CheckRead(id, Key(0), value, model);
                            break;
                        case Op.GetMany:
                            string[] keys = operation.Keys.Select((_, i) => Key(i)).ToArray();
                            IReadOnlyDictionary<string, ReadOnlyMemory<byte>> values = await store.GetManyAsync(Namespace, keys, token);
                            foreach (string key in keys)
                            {
                                CheckRead(id, key, values.TryGetValue(key, out ReadOnlyMemory<byte> v) ? v : (ReadOnlyMemory<byte>?)null, model);
                            }

                            break;
                    }

                    ledger.Completed(id);
                    ledger.End(id, Outcome.Succeeded);
                }
                catch (OperationCanceledException)
                {
                    // Applied nothing: the model is unchanged, and the final check proves the store agrees.
                    ledger.End(id, Outcome.Cancelled);
                }
                catch (InjectedFaultException fault) when (fault.ItemId == id)
                {
                    // The whole transaction rolled back: nothing applied.
                    ledger.End(id, Outcome.Failed);
                }
            }
        }

        void CheckRead(int id, string key, ReadOnlyMemory<byte>? value, Dictionary<string, int> model)
        {
            bool expected = model.TryGetValue(key, out int version);
            if (value.HasValue != expected || (expected && BitConverter.ToInt32(value!.Value.Span) != version))
            {
                problems.Enqueue($"op {id}: read {key} = {(value.HasValue ? BitConverter.ToInt32(value.Value.Span) : "missing")}, model {(expected ? version : "missing")}");
            }
        }

        // The second connection: takes the write lock (BEGIN IMMEDIATE) for a scheduled few milliseconds, again and
        // again while the writers run, so their writes meet a locked database and wait or retry.
        using var stop = new CancellationTokenSource();
        int locksTaken = 0;
        var firstLockTaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task HoldLockAsync()
        {
            await using var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 5 }.ToString());
            await other.OpenAsync();
            for (int window = 0; !stop.IsCancellationRequested; window++)
            {
                using (SqliteTransaction transaction = other.BeginTransaction(deferred: false))
                {
                    locksTaken++;
                    firstLockTaken.TrySetResult();
                    await Task.Delay(schedule.LockHoldsMs[window % schedule.LockHoldsMs.Length]);
                    transaction.Commit();
                }

                // Let the writers through for a while before the next window.
                await Task.Delay(schedule.LockHoldsMs[(window + 1) % schedule.LockHoldsMs.Length] * 2);
            }
        }

        Task locker = Task.Run(HoldLockAsync);
        // The writers start while the first lock window is open, so every round meets a locked database.
        await firstLockTaken.Task.WithTimeout();
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(w)))).WithTimeout(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            // Say where it hangs: the operations that never ended, and where the store thinks its calls are.
            int[] stuck = Enumerable.Range(0, operations.Length).Where(ledger.Unended).Take(10).ToArray();
            Assert.Fail($"{context}: the writers did not finish in 120 s; unended operations {string.Join(",", stuck.Select(id => $"{id}:{operations[id].Op}{(ledger.HasStarted(id) ? "(started)" : "")}"))}; store {store.GetStatistics()}; lock windows {locksTaken}");
        }
        await stop.CancelAsync();
        await locker.WithTimeout();
        Assert.True(problems.IsEmpty, $"{context}: {string.Join("; ", problems.Take(5))}");
        var expected = models.SelectMany(m => m).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        await CheckContentsAsync(store, expected, context + " (live store)");
        await store.DisposeAsync();
        await using (var reopened = new SqliteMemoryStore(path))
        {
            await CheckContentsAsync(reopened, expected, context + " (reopened file)");
        }

        ledger.AssertConsistent(context);
        ledger.DisposeSources();
        return (ledger, locksTaken, store.BusyRetries);
    }

    private static async Task CheckContentsAsync(SqliteMemoryStore store, Dictionary<string, int> expected, string context)
    {
        IReadOnlyList<string> keys = await store.ListKeysAsync(Namespace, "w");
        Assert.True(keys.Count == expected.Count && keys.All(expected.ContainsKey), $"{context}: store has {keys.Count} keys, model {expected.Count}; extra: {string.Join(",", keys.Where(k => !expected.ContainsKey(k)).Take(5))}; missing: {string.Join(",", expected.Keys.Where(k => !keys.Contains(k)).Take(5))}");
        IReadOnlyDictionary<string, ReadOnlyMemory<byte>> values = await store.GetManyAsync(Namespace, expected.Keys);
        foreach ((string key, int version) in expected)
        {
            Assert.True(values.TryGetValue(key, out ReadOnlyMemory<byte> stored) && BitConverter.ToInt32(stored.Span) == version, $"{context}: {key} should hold version {version}");
        }
    }
}
