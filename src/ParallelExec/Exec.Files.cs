using ParallelExec.Files;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>
    /// Starts building a <see cref="ParallelFiles"/>: read, write, copy and delete many files concurrently with a bound,
    /// atomic writes and a result per file.
    /// </summary>
    /// <returns>A single-use builder.</returns>
    /// <example>
    /// <code>
    /// var files = Exec.Files().WithMaxDegreeOfParallelism(8).Build();
    /// await foreach (var result in files.ReadDirectoryAsync("notes", "*.md"))
    /// {
    ///     if (result.Succeeded) Process(result.Path, result.Data);
    ///     else Log(result.Path, result.Exception);
    /// }
    /// </code>
    /// </example>
    public static ParallelFilesBuilder Files() => new();
}
