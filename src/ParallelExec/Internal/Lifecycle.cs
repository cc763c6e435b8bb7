namespace ParallelExec.Internal;

/// <summary>
/// The one lifecycle of a component that holds work: open, then completing (intake stopped by <c>Complete()</c> or
/// <c>DisposeAsync()</c>), with a <see cref="Completion"/> task that ends when every accepted item has ended.
/// </summary>
/// <remarks>
/// <para><b>Invariant.</b> The state only moves forward: Open → Completing → Disposing (Open → Disposing directly when
/// <c>DisposeAsync</c> comes first). <see cref="Completion"/> completes once, after intake has stopped and the owner
/// has seen its last accepted item end.</para>
/// <para><b>Locking.</b> This type takes no lock: the owner calls every member under its own lock. Completing the task
/// runs no user code there, because its continuations run asynchronously.</para>
/// </remarks>
internal sealed class Lifecycle
{
    private const int Open = 0;
    private const int Completing = 1;
    private const int Disposing = 2;

    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;

    /// <summary>Gets whether the component accepts work.</summary>
    public bool IsOpen => _state == Open;

    /// <summary>Gets whether <c>DisposeAsync</c> has begun.</summary>
    public bool IsDisposing => _state == Disposing;

    /// <summary>Gets the task that ends when intake has stopped and every accepted item has ended.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Gets or sets the disposal in progress, so that every later <c>DisposeAsync</c> call returns the same one.</summary>
    public Task? DisposeTask { get; set; }

    /// <summary>Stops intake (<c>Complete()</c>). Returns <see langword="true"/> the first time intake stops.</summary>
    public bool TryStopIntake()
    {
        if (_state != Open)
        {
            return false;
        }

        _state = Completing;
        return true;
    }

    /// <summary>Stops intake for disposal. Returns <see langword="true"/> on the first <c>DisposeAsync</c> call only.</summary>
    public bool TryBeginDispose()
    {
        if (_state == Disposing)
        {
            return false;
        }

        _state = Disposing;
        return true;
    }

    /// <summary>
    /// Begins an idempotent disposal: the first call stops intake and gets the source to complete (outside the owner's
    /// lock) when the disposal has ended; every call returns the same task.
    /// </summary>
    /// <param name="first">On the first call, the source the owner completes; otherwise <see langword="null"/>.</param>
    /// <returns>The disposal every call returns.</returns>
    public Task BeginDisposal(out TaskCompletionSource? first)
    {
        first = null;
        if (TryBeginDispose())
        {
            first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            DisposeTask = first.Task;
        }

        return DisposeTask!;
    }

    /// <summary>Marks the component completed: intake has stopped and nothing accepted is left. Idempotent.</summary>
    public void SetCompleted() => _completion.TrySetResult();

    /// <summary>Throws the one error every component gives a submission after intake has stopped.</summary>
    /// <param name="name">The component's name.</param>
    /// <exception cref="ObjectDisposedException">Disposal has begun.</exception>
    /// <exception cref="InvalidOperationException"><c>Complete()</c> was called.</exception>
    public void ThrowIfNotOpen(string name)
    {
        if (_state == Open)
        {
            return;
        }

        throw CreateClosedException(name);
    }

    /// <summary>Creates the exception <see cref="ThrowIfNotOpen"/> throws, for items refused after they were handed over.</summary>
    /// <param name="name">The component's name.</param>
    /// <returns>The exception.</returns>
    public Exception CreateClosedException(string name) => _state == Disposing
        ? new ObjectDisposedException(name, $"'{name}' was disposed: it accepts no more work.")
        : new InvalidOperationException($"'{name}' was completed (Complete() was called): it accepts no more work.");

    /// <summary>
    /// Waits for <paramref name="drained"/> up to <paramref name="drainTimeout"/>; if it passes first, runs
    /// <paramref name="cancelRest"/> on a thread-pool thread and waits for <paramref name="drained"/> again.
    /// </summary>
    /// <remarks>
    /// <paramref name="cancelRest"/> never runs on the caller's stack: cancelling fires token registrations, which complete
    /// items inline and may run code that re-enters the component (the deadlock the worker pool's zero-deadline
    /// disposal once had). <see cref="Task.Run(Action)"/> rather than a forced yield keeps the Coyote build rewritable.
    /// </remarks>
    /// <param name="drained">Completes when every accepted item has ended; must not fault.</param>
    /// <param name="drainTimeout">Zero or more, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="timeProvider">The component's clock.</param>
    /// <param name="cancelRest">Cancels and reports what is still queued or running.</param>
    /// <returns>A task that ends when everything has ended.</returns>
    public static async Task DrainAsync(Task drained, TimeSpan drainTimeout, TimeProvider timeProvider, Action cancelRest)
    {
        if (!drained.IsCompleted && drainTimeout != Timeout.InfiniteTimeSpan)
        {
            if (drainTimeout > TimeSpan.Zero)
            {
                try
                {
                    await drained.WaitAsync(drainTimeout, timeProvider).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The drain timeout passed: cancel what is left below.
                }
            }

            if (!drained.IsCompleted)
            {
                await Task.Run(cancelRest).ConfigureAwait(false);
            }
        }

        await drained.ConfigureAwait(false);
    }
}
