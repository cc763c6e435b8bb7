namespace ParallelExec.Tests.Workers;

/// <summary>A one-shot signal tests use to hold work items and to learn that one started, without sleeping.</summary>
internal sealed class Gate
{
    private readonly TaskCompletionSource _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Task => _source.Task;

    public void Open() => _source.TrySetResult();

    /// <summary>Opens the gate when disposed, so a failing assertion cannot leave a pool's disposal waiting on it.</summary>
    public IDisposable OpenOnDispose() => new Opener(this);

    public async ValueTask WaitAsync(CancellationToken cancellationToken = default) => await _source.Task.WaitAsync(cancellationToken);

    private sealed class Opener(Gate gate) : IDisposable
    {
        public void Dispose() => gate.Open();
    }
}
