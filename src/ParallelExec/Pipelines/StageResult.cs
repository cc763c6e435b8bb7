namespace ParallelExec.Pipelines;

/// <summary>What one input of a stage became: one output, several, none (consumed by a sink), or filtered out.</summary>
internal enum StageResultKind : byte
{
    None,
    One,
    Many,
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
    public readonly IEnumerable<T>? Many;

    private StageResult(StageResultKind kind, T value, IEnumerable<T>? many)
    {
        Kind = kind;
        Value = value;
        Many = many;
    }

    public static StageResult<T> Consumed => default;

    public static StageResult<T> Filtered => new(StageResultKind.Filtered, default!, null);

    public static StageResult<T> One(T value) => new(StageResultKind.One, value, null);

    public static StageResult<T> Several(IEnumerable<T> values) => new(StageResultKind.Many, default!, values);
}
