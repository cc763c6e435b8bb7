using ParallelExec.Coyote.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Workers;

/// <summary>
/// WorkerPool intake racing DisposeAsync with a drain timeout (a class of its own so that xunit runs it beside the
/// other explorations). The scenario and its ledger are <see cref="WorkerPoolInterleavingTests.IntakeVsDisposeAsync"/>.
/// </summary>
public sealed class WorkerPoolDrainTimeoutInterleavingTests(ITestOutputHelper output)
{
    /// <summary>
    /// The same race with a drain timeout: 0 (what is still queued when dispose starts is dropped at once) or 10 ms on a
    /// FakeTimeProvider that a concurrent task advances, so the drain timeout fires at any point of the schedule and drops
    /// whatever is queued then (awaiting callers get ItemDroppedException, OnDropped runs once per item).
    /// </summary>
    [Theory]
    [InlineData(QueueFullMode.Wait, 0, 106u)]
    [InlineData(QueueFullMode.DropOldest, 10, 108u)]
    public void Intake_racing_DisposeAsync_with_a_drain_timeout_ends_every_item_exactly_once(QueueFullMode mode, int drainTimeoutMs, uint seed) =>
        CoyoteExplorer.AssertNoBug(
            output, $"WorkerPool.IntakeVsDrainTimeout{drainTimeoutMs}ms.{mode}", () => WorkerPoolInterleavingTests.IntakeVsDisposeAsync(mode, TimeSpan.FromMilliseconds(drainTimeoutMs)), iterations: 30, seed);

}
