namespace ParallelExec.Agents;

/// <summary>
/// An in-process agent whose requests are served by a delegate: for agents that are a library call, for tests, and for
/// trying a pool before real processes exist.
/// </summary>
public sealed class DelegateAgent : IAgent
{
    private readonly Func<string, CancellationToken, ValueTask<string>> _handler;
    private readonly Func<ValueTask>? _onDispose;
    private int _disposed;
    private int _unhealthy;

    /// <summary>Creates the agent.</summary>
    /// <param name="id">The agent's id.</param>
    /// <param name="handler">Serves a request; may run concurrently when the pool allows more than one request per agent.</param>
    /// <param name="onDispose">Optional clean-up run once when the agent is disposed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> or <paramref name="handler"/> is <see langword="null"/>.</exception>
    public DelegateAgent(string id, Func<string, CancellationToken, ValueTask<string>> handler, Func<ValueTask>? onDispose = null)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(handler);
        Id = id;
        _handler = handler;
        _onDispose = onDispose;
    }

    /// <inheritdoc/>
    public string Id { get; }

    /// <summary>Gets a value indicating whether the agent is neither disposed nor marked unhealthy.</summary>
    public bool IsHealthy => Volatile.Read(ref _disposed) == 0 && Volatile.Read(ref _unhealthy) == 0;

    /// <summary>Gets a value indicating whether the agent has been disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Marks the agent unhealthy, so that its pool removes and replaces it after its current request.</summary>
    public void MarkUnhealthy() => Volatile.Write(ref _unhealthy, 1);

    /// <inheritdoc/>
    public ValueTask<string> SendAsync(string request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<string>(cancellationToken);
        }

        return _handler(request, cancellationToken);
    }

    /// <summary>Disposes the agent and runs its clean-up once. Idempotent.</summary>
    /// <returns>A task that completes when the clean-up has run.</returns>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _onDispose is null)
        {
            return ValueTask.CompletedTask;
        }

        return _onDispose();
    }
}
