using ParallelExec.Internal;

namespace ParallelExec.Tests.Core;

public class AdmissionPolicyTests
{
    [Theory]
    [InlineData(QueueFullMode.Wait)]
    [InlineData(QueueFullMode.DropOldest)]
    [InlineData(QueueFullMode.DropNewest)]
    [InlineData(QueueFullMode.Reject)]
    public void BelowCapacityEveryModeAccepts(QueueFullMode mode) =>
        Assert.Equal(Admission.Accept, AdmissionPolicy.Decide(count: 3, capacity: 4, mode));

    [Theory]
    [InlineData(QueueFullMode.Wait, Admission.Wait)]
    [InlineData(QueueFullMode.DropOldest, Admission.EvictOldest)]
    [InlineData(QueueFullMode.DropNewest, Admission.EvictNewest)]
    [InlineData(QueueFullMode.Reject, Admission.Reject)]
    internal void AtCapacityTheModeDecides(QueueFullMode mode, Admission expected) =>
        Assert.Equal(expected, AdmissionPolicy.Decide(count: 4, capacity: 4, mode));

    [Fact]
    public void ANewSubmitterQueuesBehindThoseAlreadyWaitingEvenWhenRoomAppeared() =>
        Assert.Equal(Admission.Wait, AdmissionPolicy.Decide(count: 3, capacity: 4, QueueFullMode.Wait, waiters: 1));

    [Fact]
    public void NothingToEvictMeansWait() =>
        Assert.Equal(Admission.Wait, AdmissionPolicy.Decide(count: 0, capacity: 0, QueueFullMode.DropOldest));

    [Theory]
    [InlineData(Admission.Accept, PostResult.Accepted)]
    [InlineData(Admission.EvictOldest, PostResult.AcceptedAfterDrop)]
    [InlineData(Admission.EvictNewest, PostResult.AcceptedAfterDrop)]
    [InlineData(Admission.Reject, PostResult.Rejected)]
    [InlineData(Admission.Wait, PostResult.QueueFull)]
    internal void EachDecisionHasOnePostResult(Admission admission, PostResult expected) =>
        Assert.Equal(expected, AdmissionPolicy.ToPostResult(admission));

    [Fact]
    public void EvictionsAndRefusalsNameTheirDropReason()
    {
        Assert.Equal(DropReason.DroppedOldest, AdmissionPolicy.ToDropReason(Admission.EvictOldest));
        Assert.Equal(DropReason.DroppedNewest, AdmissionPolicy.ToDropReason(Admission.EvictNewest));
        Assert.Equal(DropReason.Rejected, AdmissionPolicy.ToDropReason(Admission.Reject));
    }
}
