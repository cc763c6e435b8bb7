namespace ParallelExec.Pipelines;

/// <summary>What one input of a stage became: one output, several (a sequence or an asynchronous one), none (consumed by a sink), or filtered out.</summary>
internal enum StageResultKind : byte
{
    None,
    One,
    Many,
    ManyAsync,
    Filtered,
}

/// <summary>
/// The outcome of one item's work at a stage, as a struct so that a synchronous transform hands it back in a
/// <see cref="ValueTask{TResult}"/> without allocating.
/// </summary>
/// <typeparam name="T">The stage's output type.</typeparam>
internal readonly struct StageResult<T>
{
    public readonly StageResultKind Kind;
    public readonly T Value;
    // An IEnumerable<T> (Many) or an IAsyncEnumerable<T> (ManyAsync): one field keeps the struct small for every stage.
    private readonly object? _many;

    private StageResult(StageResultKind kind, T value, object? many)
    {
        Kind = kind;
        Value = value;
        _many = many;
    }

    public IEnumerable<T> Many => (IEnumerable<T>)_many!;

    public IAsyncEnumerable<T> ManyAsync => (IAsyncEnumerable<T>)_many!;

    public static StageResult<T> Consumed => default;

    public static StageResult<T> Filtered => new(StageResultKind.Filtered, default!, null);

    public static StageResult<T> One(T value) => new(StageResultKind.One, value, null);

    public static StageResult<T> Several(IEnumerable<T> values) => new(StageResultKind.Many, default!, values);

    public static StageResult<T> Several(IAsyncEnumerable<T> values) => new(StageResultKind.ManyAsync, default!, values);
}
