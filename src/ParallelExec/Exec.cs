namespace ParallelExec;

/// <summary>
/// The entry point of the fluent API. Every component of the library has a builder here, and the one-line helpers that
/// replace a sequential loop live here too.
/// </summary>
/// <remarks>
/// The class is split into one file per component (<c>Exec.WorkerPool.cs</c>, <c>Exec.Batch.cs</c>, ...) so that each
/// feature folder owns its own entry points. Builders returned from here are single use: a builder that has built
/// refuses further configuration.
/// </remarks>
public static partial class Exec
{
}
