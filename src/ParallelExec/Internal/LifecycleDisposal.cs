namespace ParallelExec.Internal;

/// <summary>
/// The start of an idempotent <c>DisposeAsync</c>, written once: the first call begins the disposal and gets the source
/// to complete when it has ended; every call gets the same task.
/// </summary>
internal static class LifecycleDisposal
{
    /// <summary>Begins the disposal on the first call; call under the owner's lock.</summary>
    /// <param name="lifecycle">The owner's lifecycle.</param>
    /// <param name="first">On the first call, the source the owner completes (outside its lock) when the disposal has ended; otherwise <see langword="null"/>.</param>
    /// <returns>The disposal every call returns.</returns>
    public static Task BeginDisposal(this Lifecycle lifecycle, out TaskCompletionSource? first)
    {
        first = null;
        if (lifecycle.TryBeginDispose())
        {
            first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lifecycle.DisposeTask = first.Task;
        }

        return lifecycle.DisposeTask!;
    }
}
