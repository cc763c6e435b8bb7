namespace ParallelExec;

/// <summary>
/// The lifecycle every component that holds work shares (TPL Dataflow's shape): <see cref="Complete"/> stops intake,
/// <see cref="Completion"/> ends when everything accepted has ended, and <see cref="IAsyncDisposable.DisposeAsync"/>
/// completes, drains within the component's <c>DrainTimeout</c>, then cancels what is left and reports it as dropped.
/// </summary>
/// <remarks>
/// After <see cref="Complete"/>, a submission throws <see cref="InvalidOperationException"/>; after
/// <see cref="IAsyncDisposable.DisposeAsync"/> has begun, it throws <see cref="ObjectDisposedException"/>. Both calls
/// are idempotent. A hosting layer drives every registered component through this interface.
/// </remarks>
public interface IExecComponent : IAsyncDisposable
{
    /// <summary>Gets the component's name (its <c>Name</c> option), used in telemetry, drop reports and errors.</summary>
    string Name { get; }

    /// <summary>
    /// Gets a task that completes when the component has stopped intake and every accepted item has ended. It completes
    /// successfully even when items failed or were dropped: those are reported per item.
    /// </summary>
    Task Completion { get; }

    /// <summary>Stops intake: later submissions throw; items already accepted still run. Idempotent.</summary>
    void Complete();

    /// <summary>Gets a snapshot of the component's statistics, its ledger included.</summary>
    /// <returns>The snapshot; the component's own <c>GetStatistics()</c> returns the derived type.</returns>
    ComponentStatistics GetStatistics();
}
