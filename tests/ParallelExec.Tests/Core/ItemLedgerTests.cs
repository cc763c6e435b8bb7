using ParallelExec.Internal;

namespace ParallelExec.Tests.Core;

public class ItemLedgerTests
{
    [Fact]
    public void EveryTransitionKeepsTheLedgerBalanced()
    {
        var ledger = new ItemLedger();
        ledger.Accept(queued: true);
        ledger.Accept(queued: true);
        ledger.Accept(queued: true);
        ledger.Accept(queued: false);
        ledger.Refuse();
        Assert.True(ledger.Snapshot().IsBalanced);

        ledger.Start();
        ledger.End(ItemOutcome.Succeeded);
        ledger.Start();
        ledger.End(ItemOutcome.Failed);
        ledger.End(ItemOutcome.Cancelled);
        ledger.EndQueued(DropReason.DroppedOldest);

        var snapshot = ledger.Snapshot();
        Assert.Equal(new LedgerSnapshot { Submitted = 5, Succeeded = 1, Failed = 1, Cancelled = 1, Dropped = 1, Rejected = 1 }, snapshot);
        Assert.True(snapshot.IsBalanced);
        Assert.Equal(5, snapshot.Ended);
        ledger.AssertBalanced();
    }

    [Theory]
    [InlineData(DropReason.Rejected, 0, 1, 0)]
    [InlineData(DropReason.Cancelled, 1, 0, 0)]
    [InlineData(DropReason.DroppedNewest, 0, 0, 1)]
    [InlineData(DropReason.DrainTimeout, 0, 0, 1)]
    public void ADropCountsInTheBucketOfItsReason(DropReason reason, long cancelled, long rejected, long dropped)
    {
        var ledger = new ItemLedger();
        ledger.Accept(queued: true);
        ledger.EndQueued(reason);

        var snapshot = ledger.Snapshot();
        Assert.Equal((cancelled, rejected, dropped), (snapshot.Cancelled, snapshot.Rejected, snapshot.Dropped));
        Assert.True(snapshot.IsBalanced);
    }

    [Fact]
    public void AnUnbalancedSnapshotIsSeen() =>
        Assert.False(new LedgerSnapshot { Submitted = 2, Succeeded = 1 }.IsBalanced);
}
