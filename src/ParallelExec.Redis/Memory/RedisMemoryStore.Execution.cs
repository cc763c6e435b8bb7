using System.Diagnostics;
using ParallelExec.Internal;
using ParallelExec.Memory;
using StackExchange.Redis;

namespace ParallelExec.Redis;

// Locking: _lock guards the ledger only and is held for counting; no user code and no I/O run under it. The store
// holds no queued work of its own (each call is its caller's await), so it is IAsyncDisposable, not an IExecComponent.

/// <summary>
/// How an operation runs: through the resilience pipeline on the connection, counted in the ledger and the telemetry;
/// and how the store ends.
/// </summary>
public sealed partial class RedisMemoryStore
{
    private readonly object _lock = new();
    private readonly ItemLedger _ledger = new();
    private volatile bool _disposed;
    private long _retries;
    private long _commands;
    private int _disposeStarted;
    private Task? _disposal;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _telemetry.NameTag;

    /// <summary>Gets a snapshot of the store's counters: one ledger item per key read, written or deleted.</summary>
    /// <returns>The counters since the store was created; <see cref="MemoryStoreStatistics.Entries"/> is <see langword="null"/> (counting keys is not cheap).</returns>
    public MemoryStoreStatistics GetStatistics() => _telemetry.Statistics(((IInstrumentedComponent)this).ReadLedger(), entries: null);

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_lock)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>Stops the store and closes the connection it opened (a connection passed in is left open). Idempotent; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 0)
        {
            _disposed = true;
            _telemetry.Instruments.Live.Remove(this);
            _disposal = _connection.DisposeAsync().AsTask();
        }

        return new ValueTask(_disposal!);
    }

    private void Count(int commands) => Interlocked.Add(ref _commands, commands);

    /// <summary>Sends a MULTI/EXEC and observes every queued command, so a failed one surfaces here and not as an unobserved task.</summary>
    private async Task ExecuteTransactionAsync(ITransaction transaction, IEnumerable<Task> queued)
    {
        if (!await transaction.ExecuteAsync().ConfigureAwait(false))
        {
            throw new InvalidOperationException("The Redis transaction was not applied.");
        }

        await Task.WhenAll(queued).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one operation through the resilience pipeline. Its <paramref name="keys"/> count in the ledger as in flight
    /// from the call until the operation ends (the store has no queue: the multiplexer pipelines every call at once).
    /// Cancellation is honoured until the command is sent; a sent command cannot be recalled.
    /// </summary>
    private async ValueTask<TResult> RunAsync<TArgs, TResult>(
        MemoryOperation operation, int keys, bool bulk, Func<RedisMemoryStore, IDatabase, TArgs, CancellationToken, Task<TResult>> run, TArgs args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var span = bulk ? _telemetry.StartBulkSpan(operation, keys) : null;
        lock (_lock)
        {
            _ledger.Submitted += keys;
            _ledger.InFlight += keys;
        }

        var started = _telemetry.Begin(operation, keys);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = await _pipeline.ExecuteAsync(
                static async (context, token) =>
                {
                    var store = context.Store;
                    var connection = await store._connection.GetAsync(token).ConfigureAwait(false);
                    ObjectDisposedException.ThrowIf(store._disposed, store);
                    token.ThrowIfCancellationRequested();
                    return await context.Run(store, connection.GetDatabase(store._options.Database), context.Args, token).ConfigureAwait(false);
                },
                (Store: this, Run: run, Args: args),
                cancellationToken).ConfigureAwait(false);
            Exit(operation, keys, ItemOutcome.Succeeded, started);
            return result;
        }
        catch (Exception ex)
        {
            // A call the store's disposal turned away ends cancelled, like one its caller cancelled.
            var outcome = ex is OperationCanceledException or ObjectDisposedException ? ItemOutcome.Cancelled : ItemOutcome.Failed;
            Exit(operation, keys, outcome, started);
            if (outcome == ItemOutcome.Failed)
            {
                Telemetry.RecordFailure(span, ex);
            }

            throw;
        }
    }

    private void Exit(MemoryOperation operation, int keys, ItemOutcome outcome, long started)
    {
        lock (_lock)
        {
            _ledger.InFlight -= keys;
            switch (outcome)
            {
                case ItemOutcome.Succeeded:
                    _ledger.Succeeded += keys;
                    break;
                case ItemOutcome.Failed:
                    _ledger.Failed += keys;
                    break;
                default:
                    _ledger.Cancelled += keys;
                    break;
            }

            AssertInvariants();
        }

        _telemetry.End(operation, keys, outcome, started);
    }

    /// <summary>Checks the ledger under <c>_lock</c>.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants() => _ledger.AssertBalanced();
}
