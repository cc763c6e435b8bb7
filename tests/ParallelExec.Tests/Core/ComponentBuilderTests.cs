using Microsoft.Extensions.Time.Testing;

namespace ParallelExec.Tests.Core;

public class ComponentBuilderTests
{
    private sealed class SampleOptions : ComponentOptions
    {
        public int Size { get; set; } = 1;

        protected override string DefaultName => "Sample";

        protected override void AddErrors(OptionsValidator validator)
        {
            base.AddErrors(validator);
            validator.RequirePositive(Size, nameof(Size));
        }
    }

    private sealed record Sample(string Name, TimeProvider Time, TimeSpan DrainTimeout, int Size);

    private sealed class SampleBuilder() : ComponentBuilder<SampleBuilder, SampleOptions, Sample>(new SampleOptions())
    {
        public SampleBuilder WithSize(int size) => Set(options => options.Size = size);

        protected override Sample Create(SampleOptions options) => new(options.Name, options.TimeProvider, options.DrainTimeout, options.Size);
    }

    [Fact]
    public void DefaultsAreTheKindNameTheSystemClockAndAnInfiniteDrain()
    {
        var sample = new SampleBuilder().Build();
        Assert.Equal(new Sample("Sample", TimeProvider.System, Timeout.InfiniteTimeSpan, 1), sample);
    }

    [Fact]
    public void SharedAndOwnSettingsReachTheComponent()
    {
        var time = new FakeTimeProvider();
        var sample = new SampleBuilder()
            .WithName("ingest")
            .WithTimeProvider(time)
            .WithDrainTimeout(TimeSpan.FromSeconds(3))
            .WithSize(7)
            .Configure(options => options.Size++)
            .Build();

        Assert.Equal(new Sample("ingest", time, TimeSpan.FromSeconds(3), 8), sample);
    }

    [Fact]
    public void ABuilderBuildsOnceAndRefusesChangesAfterwardsWithOneText()
    {
        var builder = new SampleBuilder();
        builder.Build();

        const string Expected = "This SampleBuilder has already built its Sample: a builder is single use. Start a new one from Exec.";
        Assert.Equal(Expected, Assert.Throws<InvalidOperationException>(() => builder.Build()).Message);
        Assert.Equal(Expected, Assert.Throws<InvalidOperationException>(() => builder.WithSize(2)).Message);
        Assert.Equal(Expected, Assert.Throws<InvalidOperationException>(() => builder.WithName("x")).Message);
        Assert.Equal(Expected, Assert.Throws<InvalidOperationException>(() => builder.Configure(_ => { })).Message);
    }

    [Fact]
    public void OneExceptionNamesEveryInvalidValueSharedAndOwn()
    {
        var builder = new SampleBuilder().WithSize(0).Configure(options =>
        {
            options.Name = " ";
            options.DrainTimeout = TimeSpan.FromSeconds(-2);
        });

        var error = Assert.Throws<ArgumentException>(() => builder.Build());
        Assert.Equal(
            "Invalid SampleOptions: Name = \" \": must not be empty or white space; DrainTimeout = -00:00:02: must be zero or greater, "
            + "or Timeout.InfiniteTimeSpan; Size = 0: must be greater than zero. (Parameter 'Name')",
            error.Message);
    }

    [Fact]
    public void AFailedBuildCanBeFixedAndRetried()
    {
        var builder = new SampleBuilder().WithSize(0);
        Assert.Throws<ArgumentException>(() => builder.Build());
        Assert.Equal(5, builder.WithSize(5).Build().Size);
    }

    [Fact]
    public void BadArgumentsAreRefusedAtOnceByName()
    {
        var builder = new SampleBuilder();
        Assert.Equal("name", Assert.ThrowsAny<ArgumentException>(() => builder.WithName("")).ParamName);
        Assert.Equal("timeProvider", Assert.Throws<ArgumentNullException>(() => builder.WithTimeProvider(null!)).ParamName);
        var drain = Assert.Throws<ArgumentOutOfRangeException>(() => builder.WithDrainTimeout(TimeSpan.FromSeconds(-1)));
        Assert.Equal("drainTimeout", drain.ParamName);
        Assert.Equal(TimeSpan.FromSeconds(-1), drain.ActualValue);
        Assert.Equal("configure", Assert.Throws<ArgumentNullException>(() => builder.Configure(null!)).ParamName);
    }
}
