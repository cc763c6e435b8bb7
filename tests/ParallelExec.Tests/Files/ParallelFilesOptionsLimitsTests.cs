using ParallelExec.Files;

namespace ParallelExec.Tests.Files;

/// <summary>Options that would exhaust memory (a buffer per worker, a queue per worker) are refused, naming the option and the value.</summary>
public sealed class ParallelFilesOptionsLimitsTests
{
    [Theory]
    [InlineData(nameof(ParallelFilesOptions.MaxDegreeOfParallelism), int.MaxValue, "MaxDegreeOfParallelism = 2147483647: must be between 1 and 4096")]
    [InlineData(nameof(ParallelFilesOptions.BufferSize), int.MaxValue, "BufferSize = 2147483647: must be between 1 and 16777216")]
    [InlineData(nameof(ParallelFilesOptions.BufferSize), 0, "BufferSize = 0: must be between 1 and 16777216")]
    public void Huge_or_empty_values_are_refused(string option, int value, string expected)
    {
        var options = new ParallelFilesOptions();
        typeof(ParallelFilesOptions).GetProperty(option)!.SetValue(options, value);

        var ex = Assert.Throws<ArgumentException>(() => new ParallelFiles(options));

        Assert.Contains(expected, ex.Message);
        Assert.Equal(option, ex.ParamName);
    }
}
