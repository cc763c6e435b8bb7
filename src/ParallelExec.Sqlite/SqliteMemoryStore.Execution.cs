using System.Diagnostics;
using Microsoft.Data.Sqlite;
using ParallelExec.Internal;
using ParallelExec.Memory;
using Polly;
using Polly.Retry;

namespace ParallelExec.Sqlite;

/// <summary>
/// How an operation runs: through the resilience pipeline, one at a time on the connection, counted in the ledger and
/// the telemetry; and how the store ends.
/// </summary>
public sealed partial class SqliteMemoryStore
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _lock = new();
    private readonly ItemLedger _ledger = new();
    private SqliteStatements? _db;
    private volatile bool _disposed;
    private long _busyRetries;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _telemetry.NameTag;

    /// <summary>Gets a snapshot of the store's counters: one ledger item per key read, written or deleted.</summary>
    /// <returns>The counters since the store was created; <see cref="MemoryStoreStatistics.Entries"/> is <see langword="null"/> (counting rows is not cheap).</returns>
    public MemoryStoreStatistics GetStatistics() => _telemetry.Statistics(((IInstrumentedComponent)this).ReadLedger(), entries: null);

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_lock)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>Waits for the running operation, then closes the database. Idempotent; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _db?.Dispose();
            _telemetry.Instruments.Live.Remove(this);
        }
        finally
        {
            _gate.Release();
        }
    }

    internal static bool IsBusyOrLocked(SqliteException exception) =>
        exception.SqliteErrorCode is SqliteBusy or SqliteLocked || (exception.SqliteExtendedErrorCode & 0xFF) is SqliteBusy or SqliteLocked;

    private static ResiliencePipeline BuildBusyRetry(SqliteMemoryStoreOptions options, Action onRetry)
    {
        if (options.MaxBusyRetries == 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder { TimeProvider = options.TimeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SqliteException>(IsBusyOrLocked),
                MaxRetryAttempts = options.MaxBusyRetries,
                Delay = options.BusyRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = _ =>
                {
                    onRetry();
                    return default;
                },
            })
            .Build();
    }

    /// <summary>
    /// Runs one operation through the resilience pipeline, one at a time on the store's connection. The gate is taken
    /// per attempt, so a retry's back-off does not hold other callers up. Its <paramref name="keys"/> count in the ledger
    /// as queued until the first attempt holds the connection, then in flight until the operation ends.
    /// </summary>
    private async ValueTask<TResult> RunAsync<TArgs, TResult>(
        MemoryOperation operation, int keys, bool bulk, Func<SqliteMemoryStore, TArgs, CancellationToken, TResult> run, TArgs args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var span = bulk ? _telemetry.StartBulkSpan(operation, keys) : null;
        var call = Enter(operation, keys);
        try
        {
            var result = await _pipeline.ExecuteAsync(
                static async (context, token) =>
                {
                    var store = context.Store;
                    await store._gate.WaitAsync(token).ConfigureAwait(false);
                    try
                    {
                        ObjectDisposedException.ThrowIf(store._disposed, store);
                        token.ThrowIfCancellationRequested();
                        store.Started(context.Call);
                        store._db ??= SqliteStatements.Open(store._options);
                        return context.Run(store, context.Args, token);
                    }
                    finally
                    {
                        store._gate.Release();
                    }
                },
                (Store: this, Run: run, Args: args, Call: call),
                cancellationToken).ConfigureAwait(false);
            Exit(call, ItemOutcome.Succeeded);
            return result;
        }
        catch (Exception ex)
        {
            // A call the store's disposal turned away ends cancelled, like one its caller cancelled.
            var outcome = ex is OperationCanceledException or ObjectDisposedException ? ItemOutcome.Cancelled : ItemOutcome.Failed;
            Exit(call, outcome);
            if (outcome == ItemOutcome.Failed)
            {
                Telemetry.RecordFailure(span, ex);
            }

            throw;
        }
    }

    private Call Enter(MemoryOperation operation, int keys)
    {
        lock (_lock)
        {
            for (var i = 0; i < keys; i++)
            {
                _ledger.Accept(queued: true);
            }

            AssertInvariants();
        }

        return new Call(operation, keys, _telemetry.Begin(operation, keys));
    }

    /// <summary>Moves a call's keys into flight the first time one of its attempts holds the connection.</summary>
    private void Started(Call call)
    {
        lock (_lock)
        {
            if (call.Running)
            {
                return;
            }

            call.Running = true;
            for (var i = 0; i < call.Keys; i++)
            {
                _ledger.Start();
            }

            AssertInvariants();
        }
    }

    private void Exit(Call call, ItemOutcome outcome)
    {
        lock (_lock)
        {
            for (var i = 0; i < call.Keys; i++)
            {
                if (call.Running)
                {
                    _ledger.End(outcome);
                }
                else if (outcome == ItemOutcome.Cancelled)
                {
                    _ledger.EndQueued(DropReason.Cancelled);
                }
                else
                {
                    // Failed before holding the connection (the pipeline gave up): it leaves the queue as a failure.
                    _ledger.Start();
                    _ledger.End(outcome);
                }
            }

            AssertInvariants();
        }

        _telemetry.End(call.Operation, call.Keys, outcome, call.StartedAt);
    }

    /// <summary>Checks the ledger under <c>_lock</c>.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants() => _ledger.AssertBalanced();

    /// <summary>One operation in the ledger: whether an attempt has held the connection yet (guarded by <c>_lock</c>).</summary>
    private sealed class Call(MemoryOperation operation, int keys, long startedAt)
    {
        public MemoryOperation Operation { get; } = operation;

        public int Keys { get; } = keys;

        public long StartedAt { get; } = startedAt;

        public bool Running { get; set; }
    }
}
