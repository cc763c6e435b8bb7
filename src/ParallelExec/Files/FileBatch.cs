using ParallelExec.Internal;

namespace ParallelExec.Files;

/// <summary>
/// One batch call of <see cref="ParallelFiles"/> being enumerated: its cancellation (the caller's token, or the drain
/// timeout of a disposal) and the inputs taken from the caller's enumerable that have not started yet, so that each of
/// them can be accounted for when the batch ends early.
/// </summary>
/// <remarks>
/// <b>Invariant.</b> An input is pending from the moment it is taken from the caller's enumerable until its operation
/// starts; whatever is still pending when the batch ends never ran. <b>Locking.</b> The owner's lock guards
/// <see cref="CutByDrainTimeout"/>, the pending inputs and the batch's place in the owner's list.
/// </remarks>
internal abstract class FileBatch : WaitListNode<FileBatch>, IDisposable
{
    private readonly CancellationTokenSource _cancellation;

    protected FileBatch(CancellationToken cancellationToken)
    {
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Gets the token of the batch's work: the caller's, or cancelled when a drain timeout cuts the batch.</summary>
    public CancellationToken Token => _cancellation.Token;

    /// <summary>Gets or sets whether a passed drain timeout cut the batch: what it cancels counts as dropped.</summary>
    public bool CutByDrainTimeout { get; set; }

    /// <summary>Gets or sets what the caller's enumerable threw, rethrown once the inputs taken before it have ended.</summary>
    public Exception? SourceFailure { get; set; }

    /// <summary>Cancels the batch's work (outside the owner's lock: token callbacks run here).</summary>
    public void Cancel()
    {
        try
        {
            _cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The batch ended meanwhile: nothing is left to cancel.
        }
    }

    /// <summary>Removes and returns every input that never started, boxed for the drop report.</summary>
    /// <returns>The inputs, or an empty list.</returns>
    public abstract List<object?> TakePending();

    /// <inheritdoc/>
    public void Dispose() => _cancellation.Dispose();
}

/// <summary>A batch over inputs of type <typeparamref name="TInput"/>.</summary>
/// <typeparam name="TInput">A path, a (path, content) pair, or a (source, destination) pair.</typeparam>
internal sealed class FileBatch<TInput> : FileBatch
{
    // Inputs taken but not started, by sequence number: at most the pool's look-ahead window, and a removed entry's slot
    // is reused, so a long batch allocates nothing here per file.
    private readonly Dictionary<long, TInput> _pending = [];
    private long _nextSequence;

    public FileBatch(CancellationToken cancellationToken)
        : base(cancellationToken)
    {
    }

    /// <summary>Records an input taken from the caller's enumerable; returns its sequence number.</summary>
    public long AddPending(TInput input)
    {
        var sequence = _nextSequence++;
        _pending.Add(sequence, input);
        return sequence;
    }

    /// <summary>Marks an input started; returns <see langword="false"/> if it was not pending.</summary>
    public bool Start(long sequence) => _pending.Remove(sequence);

    /// <inheritdoc/>
    public override List<object?> TakePending()
    {
        var inputs = new List<object?>(_pending.Count);
        foreach (var input in _pending.Values)
        {
            inputs.Add(input);
        }

        _pending.Clear();
        return inputs;
    }
}

/// <summary>An input as handed to the worker pool: its sequence number in the batch and when it was taken.</summary>
/// <typeparam name="TInput">The input type.</typeparam>
internal readonly record struct FileEntry<TInput>(long Sequence, TInput Input, long TakenAt);
