using System.Collections.Concurrent;

namespace ParallelExec.Sqlite;

/// <summary>
/// One connection and the operations waiting for it. Whoever posts to an idle lane runs the waiting operations one after
/// another on its own thread (up to <see cref="MaxRunsPerTurn"/>, then the rest continues on the thread pool), so the
/// connection goes from one operation to the next without waiting for a woken thread. When several single-key reads
/// or writes are waiting, they run together in one transaction (see <c>SqliteLane.Groups.cs</c>): under contention a
/// lane does less work per operation than one caller alone, so 64 callers are faster than one.
/// </summary>
/// <remarks>
/// Only the thread that holds <c>_running</c> touches the connection; a posted operation ends exactly once (run,
/// failed, or cancelled while waiting). A SemaphoreSlim around the connection measured 1.4-1.7x slower with 8-64
/// callers than with one: each hand-over waited for the next waiter's thread to be scheduled while the connection sat
/// idle.
/// </remarks>
internal sealed partial class SqliteLane
{
    // Bounds how long one caller's thread works for others before the rest moves to the thread pool; also the largest group.
    private const int MaxRunsPerTurn = 64;

    private static readonly Action<object?> ContinueOnPool = static lane => ((SqliteLane)lane!).RunHeld();

    private readonly ConcurrentQueue<LaneWork> _queue = new();
    private readonly Func<SqliteStatements> _open;
    private SqliteStatements? _db;
    private bool _closed;
    private int _running;

    public SqliteLane(Func<SqliteStatements> open) => _open = open;

    /// <summary>Gets a value indicating whether nothing runs on the lane and nothing waits for it (a hint, read without a lock).</summary>
    public bool IsIdle => Volatile.Read(ref _running) == 0 && _queue.IsEmpty;

    /// <summary>Runs <paramref name="body"/> on the lane's connection (opened on first use) when its turn comes.</summary>
    /// <param name="body">The operation; runs on whichever thread drains the lane, never concurrently with another.
    /// A grouped body may run a second time, alone, when its group's transaction fails (the first run rolled back).</param>
    /// <param name="group">Whether the operation may share a transaction with the waiting operations of its kind.</param>
    /// <param name="cancellationToken">Cancels the operation while it waits; once started it runs to its end.</param>
    /// <returns>The operation's result; <see cref="ObjectDisposedException"/> once the lane is closed.</returns>
    public Task<TResult> RunAsync<TResult>(Func<SqliteStatements, TResult> body, LaneGroup group, CancellationToken cancellationToken)
    {
        var work = new LaneWork<TResult>(body, group, cancellationToken);
        _queue.Enqueue(work);
        if (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            RunHeld();
        }

        return work.Task;
    }

    /// <summary>Closes the connection after the operations posted before this call; later ones fail with <see cref="ObjectDisposedException"/>.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public Task CloseAsync() => RunAsync(
        db =>
        {
            _closed = true;
            _db?.Dispose();
            _db = null;
            return true;
        },
        LaneGroup.None,
        CancellationToken.None);

    /// <summary>Drains the queue while holding <c>_running</c>; releases it, or hands it to the thread pool after a turn.</summary>
    private void RunHeld()
    {
        while (true)
        {
            var budget = MaxRunsPerTurn;
            while (budget > 0 && _queue.TryDequeue(out var work))
            {
                if (work.Group != LaneGroup.None && _queue.TryPeek(out var next) && next.Group == work.Group)
                {
                    budget -= RunGroup(work, budget);
                }
                else
                {
                    budget--;
                    work.Run(this);
                }
            }

            if (budget <= 0 && !_queue.IsEmpty)
            {
                ThreadPool.UnsafeQueueUserWorkItem(ContinueOnPool, this, preferLocal: false);
                return;
            }

            // The release must be a full fence, not Volatile.Write: a plain store may wait in this core's store buffer
            // while the IsEmpty read below goes ahead of it (store-load reordering, allowed on x86 too). A poster could
            // then enqueue, see _running still 1 and leave its operation to this thread, while this thread reads the
            // queue as empty and leaves too: the operation would wait forever. (A hang of the SQLite stress test's
            // writers under CI load on net8.0 was this.)
            Interlocked.Exchange(ref _running, 0);
            // An operation posted between the last TryDequeue and the release found the lane running: take it back.
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _running, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>The connection for the running operation: opened on first use; throws once the lane is closed.</summary>
    private SqliteStatements Connection()
    {
        if (_closed)
        {
            throw new ObjectDisposedException(nameof(SqliteMemoryStore));
        }

        return _db ??= _open();
    }
}
