namespace ParallelExec.Workers;

/// <summary>The result type of awaited work that returns no value.</summary>
internal readonly struct VoidResult
{
}
