using System.Diagnostics;
using Microsoft.Data.Sqlite;
using ParallelExec.Internal;
using ParallelExec.Memory;
using Polly;
using Polly.Retry;

namespace ParallelExec.Sqlite;

/// <summary>
/// How an operation runs: through the resilience pipeline, on a lane (the writer connection, or for a database file one
/// of the reader connections), counted in the ledger and the telemetry; and how the store ends.
/// </summary>
public sealed partial class SqliteMemoryStore
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    private readonly object _lock = new();
    private readonly ItemLedger _ledger = new();
    private readonly SemaphoreSlim _disposeGate = new(1, 1);
    private SqliteLane _writer = null!;
    private SqliteLane[] _readers = null!;
    private int _nextReader;
    private volatile bool _disposed;
    private long _busyRetries;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _telemetry.NameTag;

    /// <summary>Gets a snapshot of the store's counters: one ledger item per key read, written or deleted.</summary>
    /// <returns>
    /// The counters since the store was created; <see cref="MemoryStoreStatistics.Entries"/> is <see langword="null"/>
    /// (counting rows is not cheap); <see cref="MemoryStoreStatistics.BusyRetries"/> counts the built-in busy retry's
    /// retries (0 with a <see cref="SqliteMemoryStoreOptions.ResiliencePipeline"/> of your own).
    /// </returns>
    public MemoryStoreStatistics GetStatistics() => _telemetry.Statistics(((IInstrumentedComponent)this).ReadLedger(), entries: null, BusyRetries);

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_lock)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>
    /// Waits for the operations already holding or waiting for a connection, then closes the database. Idempotent;
    /// later operations throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <returns>A task that completes when every connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _disposeGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            var closing = new List<Task>(_readers.Length + 1) { _writer.CloseAsync() };
            foreach (var reader in _readers)
            {
                closing.Add(reader.CloseAsync());
            }

            await Task.WhenAll(closing).ConfigureAwait(false);
            _telemetry.Instruments.Live.Remove(this);
        }
        finally
        {
            _disposeGate.Release();
        }
    }

    /// <summary>Creates the lanes: one writer, and for a database file the reader connections WAL lets run beside it.</summary>
    private void CreateLanes()
    {
        _writer = new SqliteLane(() => SqliteStatements.Open(_options));
        var inMemory = _options.DataSource == ":memory:" || _options.DataSource.Contains("mode=memory", StringComparison.OrdinalIgnoreCase);
        // A private in-memory database is one connection's own: it has no other connection to read through.
        _readers = inMemory ? [] : new SqliteLane[_options.ReadConnections];
        for (var i = 0; i < _readers.Length; i++)
        {
            _readers[i] = new SqliteLane(() => SqliteStatements.Open(_options));
        }
    }

    /// <summary>The lane a read goes to: an idle reader if there is one, otherwise the next in turn.</summary>
    private SqliteLane PickReader()
    {
        var readers = _readers;
        if (readers.Length == 0)
        {
            return _writer;
        }

        foreach (var reader in readers)
        {
            if (reader.IsIdle)
            {
                return reader;
            }
        }

        return readers[(int)((uint)Interlocked.Increment(ref _nextReader) % (uint)readers.Length)];
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
    /// Runs one operation through the resilience pipeline on a lane: reads on a reader connection, writes on the writer.
    /// Each attempt waits for its lane anew, so a retry's back-off does not hold other callers up. Its
    /// <paramref name="keys"/> count in the ledger as queued until the first attempt holds a connection, then in flight
    /// until the operation ends. A single-key read or write (<paramref name="group"/>) may share a transaction with the
    /// operations of its kind waiting on the same lane; its body must then be safe to run twice (see <see cref="SqliteLane"/>).
    /// </summary>
    private async ValueTask<TResult> RunAsync<TArgs, TResult>(
        MemoryOperation operation, int keys, bool bulk, Func<SqliteMemoryStore, SqliteStatements, TArgs, CancellationToken, TResult> run, TArgs args, CancellationToken cancellationToken, LaneGroup group = LaneGroup.None)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var span = bulk ? _telemetry.StartBulkSpan(operation, keys) : null;
        var call = Enter(operation, keys);
        try
        {
            var attempt = new Attempt<TArgs, TResult>(this, run, args, call, group);
            TResult result;
            if (_options.ResiliencePipeline is null)
            {
                // The built-in pipeline only retries busy and locked errors: the first attempt goes straight to its
                // lane, and only a busy one enters Polly. Through Polly, a call that waits for its lane costs four
                // more async state machines and their allocations (about 1.3 KB a call with 64 callers).
                try
                {
                    result = await attempt.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (SqliteException busy) when (IsBusyOrLocked(busy))
                {
                    result = await RetryAfterBusyAsync(attempt, busy, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                result = await _pipeline.ExecuteAsync(static (attempt, token) => attempt.StartAsync(token), attempt, cancellationToken).ConfigureAwait(false);
            }

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

    /// <summary>Goes on with the built-in busy retry after a first attempt made outside it failed busy: the pipeline's
    /// first attempt reports that failure again instead of running, so the retries, their delays and
    /// <see cref="BusyRetries"/> are exactly those of a call that went through the pipeline from the start.</summary>
    private ValueTask<TResult> RetryAfterBusyAsync<TArgs, TResult>(Attempt<TArgs, TResult> attempt, SqliteException busy, CancellationToken cancellationToken) =>
        _pipeline.ExecuteAsync(
            static (replay, token) =>
            {
                if (replay.FirstFailure is { } failure)
                {
                    replay.FirstFailure = null;
                    return ValueTask.FromException<TResult>(failure);
                }

                return replay.Attempt.StartAsync(token);
            },
            new BusyReplay<TArgs, TResult>(attempt, busy),
            cancellationToken);

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

    /// <summary>One attempt of an operation: on a reader lane for reads, on the writer for the rest.</summary>
    private readonly record struct Attempt<TArgs, TResult>(
        SqliteMemoryStore Store, Func<SqliteMemoryStore, SqliteStatements, TArgs, CancellationToken, TResult> Run, TArgs Args, Call Call, LaneGroup Group)
    {
        public ValueTask<TResult> StartAsync(CancellationToken token)
        {
            var store = Store;
            ObjectDisposedException.ThrowIf(store._disposed, store);
            var lane = Call.Operation is MemoryOperation.Get or MemoryOperation.List ? store.PickReader() : store._writer;
            var attempt = this;
            return new ValueTask<TResult>(lane.RunAsync(
                db =>
                {
                    token.ThrowIfCancellationRequested();
                    store.Started(attempt.Call);
                    return attempt.Run(store, db, attempt.Args, token);
                },
                Group,
                token));
        }
    }

    /// <summary>The state of <see cref="RetryAfterBusyAsync"/>: the attempt, and the first attempt's failure until it is reported.</summary>
    private sealed class BusyReplay<TArgs, TResult>(Attempt<TArgs, TResult> attempt, Exception firstFailure)
    {
        public Attempt<TArgs, TResult> Attempt { get; } = attempt;

        public Exception? FirstFailure { get; set; } = firstFailure;
    }

    /// <summary>One operation in the ledger: whether an attempt has held the connection yet (guarded by <c>_lock</c>).</summary>
    private sealed class Call(MemoryOperation operation, int keys, long startedAt)
    {
        public MemoryOperation Operation { get; } = operation;

        public int Keys { get; } = keys;

        public long StartedAt { get; } = startedAt;

        public bool Running { get; set; }
    }
}
