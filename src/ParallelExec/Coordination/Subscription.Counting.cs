using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>
/// The counters of a subscription's deliveries and their one hand-over to the bus. An item is one delivery: a message
/// offered to this subscription.
/// </summary>
/// <remarks>
/// <para>The hot counters (<c>_received</c> by publishers, <c>_handled</c> by the handler loops) are interlocked, each on
/// its own cache line; the rare ones (failed, cancelled, dropped, rejected, and the publishers waiting for room) live in
/// an <see cref="ItemLedger"/> updated atomically. A delivery is counted received <i>before</i> its write, so that a
/// handler can never end a delivery its publisher has not counted yet.</para>
/// <para>When the subscription has drained, the bus takes its totals once (<see cref="RetireCounters"/>). An end counted
/// from outside the handler loops (a publisher's rejection, eviction or cancelled wait, a stream reader's read) can come
/// after that; <see cref="CountLateEnd"/> then hands it to the bus instead, decided under <c>_countersLock</c> so that
/// each end reaches the bus's ledger exactly once.</para>
/// </remarks>
public abstract partial class Subscription
{
    private readonly object _countersLock = new();
    private bool _countersRetired;

    // Written by publishers on every delivery, while the handler loop reads the subscription's other fields (the mailbox,
    // _abandoned, the handler) on every message: padded onto its own cache line, so that a publish does not invalidate
    // the line the handler reads. (The runtime lays a class's fields out by size, so a plain long lands among them.)
    private PaddedCounter _received;

    // Written by the handler loop(s) on every message while publishers write _received: padded onto its own cache line
    // so that the two sides do not invalidate each other's line on every message.
    private PaddedCounter _handled;

    // The rare ends (failed, cancelled, dropped, rejected) and the publishers waiting for room (Queued).
    private readonly ItemLedger _rare = new();

    /// <summary>Reads the counters. Publishers and handlers do not stop for it, so a busy subscription's snapshot may be a step out of balance.</summary>
    internal LedgerSnapshot ReadLedger()
    {
        var rare = _rare.Snapshot();
        var received = Interlocked.Read(ref _received.Value);
        var handled = Interlocked.Read(ref _handled.Value);
        long queued = _mailbox.Reader.CanCount ? _mailbox.Reader.Count : 0;

        // _received counts the publishers still waiting for room too (counted before the write); a cancelled wait was
        // taken back out of it and counts as cancelled.
        var inFlight = received - rare.Queued - handled - rare.Failed - rare.Dropped - queued;
        return rare with
        {
            Submitted = received + rare.Rejected + rare.Cancelled,
            Succeeded = handled,
            InFlight = Math.Max(0, inFlight),
            Queued = queued + rare.Queued,
        };
    }

    /// <summary>Hands the totals to the bus, once the subscription has drained; later ends go through <see cref="CountLateEnd"/>.</summary>
    internal LedgerSnapshot RetireCounters()
    {
        lock (_countersLock)
        {
            _countersRetired = true;
            return ReadLedger();
        }
    }

    /// <summary>A stream's reader took a message: it ends as succeeded (the reader may read after the stream drained).</summary>
    private protected void OnRead() => CountLateEnd(ref _handled.Value, new LedgerSnapshot { Submitted = 1, Succeeded = 1 });

    /// <summary>A handler loop ended a delivery as succeeded (always before the subscription drains). A single loop is
    /// the counter's only writer (it awaits each delivery before the next): a plain increment with a release write is
    /// enough there, and saves a locked instruction per message; readers use Interlocked.Read either way.</summary>
    private void OnHandled()
    {
        if (_singleLoop)
        {
            Volatile.Write(ref _handled.Value, _handled.Value + 1);
        }
        else
        {
            Interlocked.Increment(ref _handled.Value);
        }
    }

    /// <summary>Counts an end from outside the handler loops; if the bus already took this subscription's totals, the
    /// bus counts it instead (<paramref name="forBus"/>).</summary>
    private void CountLateEnd(ref long counter, LedgerSnapshot forBus)
    {
        bool retired;
        lock (_countersLock)
        {
            Interlocked.Increment(ref counter);
            retired = _countersRetired;
        }

        if (retired)
        {
            Bus.AddRetired(forBus);
        }
    }

    private void CountRejected() => CountLateEnd(ref _rare.Rejected, new LedgerSnapshot { Submitted = 1, Rejected = 1 });

    private void CountEvicted() => CountLateEnd(ref _rare.Dropped, new LedgerSnapshot { Submitted = 1, Dropped = 1 });

    private void CountCancelledWait() => CountLateEnd(ref _rare.Cancelled, new LedgerSnapshot { Submitted = 1, Cancelled = 1 });

    /// <summary>Checks what holds between the counters at any moment. Called where a delivery ends.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        // Only what cannot race: a handler may end a delivery while its publisher is still inside the write.
        Debug.Assert(Interlocked.Read(ref _rare.Queued) >= 0, "Negative count of publishers waiting for room.");
        Debug.Assert(Interlocked.Read(ref _handled.Value) + Interlocked.Read(ref _rare.Failed) <= Interlocked.Read(ref _received.Value),
            "A handler ended more deliveries than publishers counted.");
    }
}
