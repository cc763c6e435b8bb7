using ParallelExec.Coyote.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Workers;

/// <summary>
/// WorkerPool intake racing DisposeAsync with a drain deadline (a class of its own so that xunit runs it beside the
/// other explorations). The scenario and its ledger are <see cref="WorkerPoolInterleavingTests.IntakeVsDisposeAsync"/>.
/// </summary>
public sealed class WorkerPoolDeadlineInterleavingTests(ITestOutputHelper output)
{
    /// <summary>
    /// The same race with a drain deadline: 0 (what is still queued when dispose starts is dropped at once) or 10 ms on a
    /// FakeTimeProvider that a concurrent task advances, so the deadline fires at any point of the schedule and drops
    /// whatever is queued then (awaiting callers get ItemDroppedException, OnDropped runs once per item).
    /// </summary>
    [Theory]
    [InlineData(QueueFullMode.Wait, 0, 106u)]
    [InlineData(QueueFullMode.DropOldest, 10, 108u)]
    public void Intake_racing_DisposeAsync_with_a_drain_deadline_ends_every_item_exactly_once(QueueFullMode mode, int deadlineMs, uint seed) =>
        CoyoteExplorer.AssertNoBug(
            output, $"WorkerPool.IntakeVsDrainTimeout{deadlineMs}ms.{mode}", () => WorkerPoolInterleavingTests.IntakeVsDisposeAsync(mode, TimeSpan.FromMilliseconds(deadlineMs)), iterations: 30, seed);

}
