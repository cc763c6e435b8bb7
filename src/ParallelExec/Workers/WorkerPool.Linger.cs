using System.Diagnostics;

namespace ParallelExec.Workers;

/// <summary>
/// Lingering: a worker that ran a short item and finds nothing to run stays awake for a few microseconds before it
/// parks, and a submission hands its item to that worker directly, with no wake-up.
/// </summary>
/// <remarks>
/// <para>Why: a caller that awaits its results submits more slowly than the workers run trivial items, so the workers
/// keep running dry. Without lingering each of them parks (its thread goes back to the thread pool) and the next
/// submission wakes it again: the submitter queues the worker to the thread pool, which may wake a thread, and the woken
/// worker runs one item and parks again. Measured on 2 cores, up to 95,000 park-and-wake rounds per 100,000 awaited
/// items; with lingering, about 100. A parked worker's thread spins in the thread pool anyway before it sleeps, so
/// staying awake in the worker first costs about the same processor time and saves both sides the round trip.</para>
/// <para>The lingering worker yields its processor between looks rather than spinning on it: when the submitter shares
/// that processor (a busy or single-core moment of the machine), it runs at once instead of waiting out the spin.</para>
/// <para>Bounds: one worker lingers at a time (the submitter needs a core too), only on a machine with more than one
/// processor, only after an item that completed synchronously (work that waits for I/O gains nothing from a worker kept
/// awake), never once intake has stopped, and for at most <see cref="LingerTicks"/>. It does not linger when
/// the item it finished resumes a caller that was waiting for it, and stops as soon as the thread pool has work queued:
/// the thread it holds is then better spent on that work (the resumed caller among it). With sixteen callers that each
/// await one item at a time, lingering after resuming a waiting caller cost 20 % more time.</para>
/// <para>A lingering worker counts as idle for submissions and dispatch: it is handed the next runnable item before a
/// parked worker is woken, so "idle workers exist only when nothing queued is runnable" still holds. A worker running
/// claimed items gives them back for a parked worker, not for a lingering one: that check runs between every two
/// claimed items, and reading the lingering state there (a field the submitter writes) made posting twice as slow; the
/// lingering worker parks within <see cref="LingerTicks"/> anyway.</para>
/// </remarks>
public sealed partial class WorkerPool
{
    // About as long as a parked worker's thread spins in the thread pool before it sleeps: enough to bridge the gap
    // between one awaiting caller's submissions, short enough that an idle pool stops looking almost at once.
    private static readonly long LingerTicks = Stopwatch.Frequency / 50_000; // 20 µs

#if PARALLELEXEC_MONITOR_LOCK
    // Under Coyote a waiting loop would be an uncontrolled busy loop: a lingering worker looks once, then gives up (the
    // hand-off and give-up races are what the exploration covers).
    private static readonly bool s_mayLinger = true;
    private static readonly bool s_lingerWaits = false;
#else
    private static readonly bool s_mayLinger = Environment.ProcessorCount > 1;
    private static readonly bool s_lingerWaits = true;
#endif

    // The worker lingering now, if any (guarded by _lock).
    private Worker? _lingerer;

    /// <summary>Whether a worker is lingering or parked (under the lock).</summary>
    private bool HasIdleWorkerLocked => _lingerer is not null || _idle.Count > 0;

    /// <summary>
    /// Starts a queue entry (a node, or a plain delegate) on an idle worker: handed at once to the lingering worker, which
    /// is watching for it (returns <see langword="null"/>), else given to a parked worker, which the caller must signal
    /// with <paramref name="item"/> (returned; outside the lock where it can). Call only when
    /// <see cref="HasIdleWorkerLocked"/>.
    /// </summary>
    private Worker? StartOnIdleWorkerLocked(object entry, out WorkItem item)
    {
        if (_lingerer is { } lingerer)
        {
            _lingerer = null;
            item = lingerer.Arm(entry);
            StartLocked(item, lingerer);
            Volatile.Write(ref lingerer.HandedOff, item);
            return null;
        }

        var parked = _idle.Pop();
        item = parked.Arm(entry);
        StartLocked(item, parked);
        return parked;
    }

    /// <summary>
    /// Under the lock, when <paramref name="worker"/> found nothing to run after an item that completed synchronously:
    /// makes it the lingering worker if the bounds allow (see the type's remarks).
    /// </summary>
    private bool TryLingerLocked(Worker worker)
    {
        if (_lingerer is not null || !_lifecycle.IsOpen || !s_mayLinger)
        {
            return false;
        }

        worker.HandedOff = null;
        _lingerer = worker;
        return true;
    }

    /// <summary>
    /// Outside the lock: waits up to <see cref="LingerTicks"/> for an item handed to <paramref name="worker"/>; then,
    /// under the lock, stops lingering and takes the next item, parks or retires as a worker that found nothing would.
    /// </summary>
    private WorkItem? Linger(Worker worker, out bool retire)
    {
        retire = false;
        if (s_lingerWaits)
        {
            var deadline = Stopwatch.GetTimestamp() + LingerTicks;
            while (Volatile.Read(ref worker.HandedOff) is null && _lifecycle.IsOpen && Stopwatch.GetTimestamp() < deadline
                && ThreadPool.PendingWorkItemCount == 0)
            {
                Thread.Yield();
            }
        }

        // Handed an item: the submitter already took this worker out of the lingering state, so the item is its own.
        if (Volatile.Read(ref worker.HandedOff) is { } handedOff)
        {
            worker.HandedOff = null;
            return handedOff;
        }

        lock (_lock)
        {
            // Handed an item since the last look (written under the lock, so it is visible here).
            if (worker.HandedOff is { } item)
            {
                worker.HandedOff = null;
                return item;
            }

            // Not handed anything, so still the lingering worker.
            _lingerer = null;
            return TakeNextOrParkLocked(worker, mayClaim: false, mayLinger: false, out retire, out _);
        }
    }
}
