using ParallelExec.Internal;

namespace ParallelExec.Tests.Core;

public class OptionsValidatorTests
{
    [Fact]
    public void ValidOptionsDoNotThrow()
    {
        new OptionsValidator("SampleOptions")
            .RequirePositive(1, "Workers")
            .RequireNotNull(new object(), "Handler")
            .ThrowIfInvalid();
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
