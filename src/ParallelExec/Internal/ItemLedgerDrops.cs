namespace ParallelExec.Internal;

/// <summary>The one ledger move <see cref="ItemLedger"/> lacks: a running item cut by a drop reason rather than ending by itself.</summary>
internal static class ItemLedgerDrops
{
    /// <summary>Ends an item in flight as dropped (for example cancelled by a passed drain timeout); call under the owner's lock.</summary>
    /// <param name="ledger">The owner's ledger.</param>
    /// <param name="reason">Why the item did not run to an outcome of its own.</param>
    public static void EndInFlight(this ItemLedger ledger, DropReason reason)
    {
        ledger.InFlight--;
        ledger.CountDrop(reason);
    }
}
