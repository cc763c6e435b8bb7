using ParallelExec.Internal;

namespace ParallelExec.Tests.Core;

public class OptionsValidatorTests
{
    [Fact]
    public void ValidOptionsRecordNoErrorAndDoNotThrow()
    {
        var validator = new OptionsValidator("SampleOptions")
            .RequirePositive(1, "Workers")
            .RequirePositive(TimeSpan.FromTicks(1), "Delay")
            .RequirePositiveOrInfinite(Timeout.InfiniteTimeSpan, "Timeout")
            .RequireNotNull(new object(), "Handler")
            .RequireDefined(QueueFullMode.Reject, "FullMode");

        Assert.False(validator.HasErrors);
        Assert.Null(Record.Exception(validator.ThrowIfInvalid));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void A_non_positive_count_is_recorded_with_its_value(int value)
    {
        var validator = new OptionsValidator("SampleOptions").RequirePositive(value, "Workers");

        Assert.True(validator.HasErrors);
        var error = Assert.Throws<ArgumentException>(validator.ThrowIfInvalid);
        Assert.Equal("Workers", error.ParamName);
        Assert.Contains($"Workers = {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}: must be greater than zero", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_negative_and_infinite_spans_are_told_apart()
    {
        Assert.True(new OptionsValidator("S").RequirePositive(TimeSpan.Zero, "Delay").HasErrors);
        Assert.True(new OptionsValidator("S").RequirePositive(Timeout.InfiniteTimeSpan, "Delay").HasErrors);
        Assert.True(new OptionsValidator("S").RequirePositiveOrInfinite(TimeSpan.FromTicks(-2), "Timeout").HasErrors);
        Assert.False(new OptionsValidator("S").RequirePositiveOrInfinite(Timeout.InfiniteTimeSpan, "Timeout").HasErrors);
        var error = Assert.Throws<ArgumentException>(new OptionsValidator("S").RequirePositive(TimeSpan.FromSeconds(-1), "Delay").ThrowIfInvalid);
        Assert.Contains("Delay = -00:00:01: must be greater than zero", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryInvalidValueIsListedInOneException()
    {
        var validator = new OptionsValidator("SampleOptions")
            .RequirePositive(0, "Workers")
            .RequirePositive(-5, "Capacity")
            .RequireNotNull(null, "Handler")
            .RequireDefined((QueueFullMode)42, "FullMode");

        var error = Assert.Throws<ArgumentException>(validator.ThrowIfInvalid);

        Assert.Equal(
            "Invalid SampleOptions: Workers = 0: must be greater than zero; Capacity = -5: must be greater than zero; "
            + "Handler = null: must not be null; FullMode = 42: must be a defined QueueFullMode value. (Parameter 'Workers')",
            error.Message);
        Assert.Equal("Workers", error.ParamName);
    }
}
