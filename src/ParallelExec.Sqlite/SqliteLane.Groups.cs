namespace ParallelExec.Sqlite;

/// <summary>
/// Group transactions: the single-key reads (or writes) waiting for a lane run together in one transaction, so that
/// the locking and the commit of a transaction are paid once per group instead of once per operation. Measured on one
/// connection, 4,096 single-key reads cost 3.4-3.8 µs each in their own transactions and 1.5-2.0 µs in groups of 16-32;
/// upserts 4.4-5.3 µs against 1.2-2.4 µs.
/// </summary>
/// <remarks>
/// <para>A group is formed only from operations already waiting when it begins, so a read sees every write that had
/// completed before the read was posted (a caller's own writes included): the read transaction's snapshot is taken
/// after they committed.</para>
/// <para>Reads complete as they run: a read transaction has nothing to commit. Writes complete when the group commits.
/// When a write fails or the commit fails, the group is rolled back and every write in it runs again alone, in its own
/// transaction, as it would have without the group; the failing one fails on its own, the others are not lost.</para>
/// <para>One operation alone on a lane (a single caller) runs as before, without BEGIN and COMMIT around it.</para>
/// </remarks>
internal sealed partial class SqliteLane
{
    // Touched only by the thread that holds _running.
    private readonly List<LaneWork> _group = new(MaxRunsPerTurn);
    private long _groupTransactions;

    /// <summary>Gets how many group transactions (two or more operations in one) this lane has begun (for tests).</summary>
    public long GroupTransactions => Volatile.Read(ref _groupTransactions);

    /// <summary>Runs <paramref name="first"/> with the operations of its kind waiting right behind it, up to
    /// <paramref name="budget"/> in all, in one transaction.</summary>
    /// <returns>How many operations the group took from the queue.</returns>
    private int RunGroup(LaneWork first, int budget)
    {
        var group = _group;
        group.Add(first);
        // This thread is the queue's only reader: the operation dequeued is the one just peeked.
        while (group.Count < budget && _queue.TryPeek(out var next) && next.Group == first.Group && _queue.TryDequeue(out next))
        {
            group.Add(next);
        }

        try
        {
            if (first.Group == LaneGroup.Read)
            {
                RunReads(group);
            }
            else
            {
                RunWrites(group);
            }

            return group.Count;
        }
        finally
        {
            group.Clear();
        }
    }

    private void RunReads(List<LaneWork> group)
    {
        if (!TryBegin(group, write: false, out var db))
        {
            return;
        }

        // Reads complete as they run: a read transaction has nothing to commit that a reader would wait for.
        foreach (var work in group)
        {
            work.Run(this);
        }

        EndTransaction(db, commit: true);
    }

    private void RunWrites(List<LaneWork> group)
    {
        if (!TryBegin(group, write: true, out var db))
        {
            return;
        }

        var failed = false;
        foreach (var work in group)
        {
            if (!work.TryStart())
            {
                continue;
            }

            work.Execute(this);

            // A cancellation is checked before the body touches the database: it fails that write alone.
            if (work.Error is { } error && error is not OperationCanceledException)
            {
                failed = true;
                break;
            }
        }

        if (!failed && EndTransaction(db, commit: true))
        {
            foreach (var work in group)
            {
                if (work.IsStarted)
                {
                    work.Publish();
                }
            }

            return;
        }

        // Nothing of the group is kept (a failed commit has been rolled back already): each write runs again alone
        // and ends with its own outcome.
        if (failed)
        {
            EndTransaction(db, commit: false);
        }

        foreach (var work in group)
        {
            if (work.IsStarted)
            {
                work.Execute(this);
                work.Publish();
            }
            else
            {
                work.Run(this);
            }
        }
    }

    /// <summary>Opens the group's transaction; when that fails (the lane is closed, the database is locked past the
    /// busy timeout), every operation of the group fails with that exception and the group is over.</summary>
    private bool TryBegin(List<LaneWork> group, bool write, out SqliteStatements db)
    {
        try
        {
            db = Connection();
            db.Begin(write);
            Interlocked.Increment(ref _groupTransactions);
            return true;
        }
        catch (Exception ex)
        {
            foreach (var work in group)
            {
                if (work.TryStart())
                {
                    work.Fail(ex);
                }
            }

            db = null!;
            return false;
        }
    }

    /// <summary>Commits (or rolls back) the group's transaction. Whatever happens, the connection leaves it outside a
    /// transaction: a connection left inside one would run every later operation in a stale snapshot.</summary>
    /// <returns>Whether the transaction committed.</returns>
    private bool EndTransaction(SqliteStatements db, bool commit)
    {
        try
        {
            if (commit && db.InTransaction)
            {
                db.Commit();
                return true;
            }
        }
        catch (Exception)
        {
            // Falls through to the rollback below.
        }

        try
        {
            if (db.InTransaction)
            {
                db.Rollback();
            }
        }
        catch (Exception)
        {
            // The connection cannot leave its transaction: close it; the next operation opens a new one.
            if (ReferenceEquals(_db, db))
            {
                _db = null;
            }

            db.Dispose();
        }

        return false;
    }
}
