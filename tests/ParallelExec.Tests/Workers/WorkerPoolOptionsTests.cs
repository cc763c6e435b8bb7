using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

public class WorkerPoolOptionsTests
{
    [Fact]
    public void DefaultsAreDocumentedValues()
    {
        var options = new WorkerPoolOptions();
        Assert.Equal(Environment.ProcessorCount, options.MaxDegreeOfParallelism);
        Assert.Equal(1024, options.QueueCapacity);
        Assert.Equal(QueueFullMode.Wait, options.FullMode);
        Assert.Same(TimeProvider.System, options.TimeProvider);
        Assert.Null(options.OnDropped);
        Assert.Null(options.OnError);
        Assert.Null(options.ResiliencePipeline);
        Assert.Equal("WorkerPool", options.Name);
    }

    [Fact]
    public void EveryBadOptionIsListedInOneException()
    {
        var options = new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = 0,
            QueueCapacity = -3,
            FullMode = (QueueFullMode)9,
            TimeProvider = null!,
            Name = " ",
            DrainTimeout = TimeSpan.FromSeconds(-2),
        };

        var error = Assert.Throws<ArgumentException>(() => new WorkerPool(options));

        Assert.Equal(
            "Invalid WorkerPoolOptions: Name = \" \": must not be empty or white space; TimeProvider = null: must not be null; "
            + "DrainTimeout = -00:00:02: must be zero or greater, or Timeout.InfiniteTimeSpan; "
            + "MaxDegreeOfParallelism = 0: must be greater than zero; QueueCapacity = -3: must be greater than zero; "
            + "FullMode = 9: must be a defined QueueFullMode value. (Parameter 'Name')",
            error.Message);
        Assert.Equal("Name", error.ParamName);
    }

    [Fact]
    public void BuilderReportsBadCountsTogetherAndNullDelegatesAtOnce()
    {
        var builder = Exec.WorkerPool().WithMaxDegreeOfParallelism(-1).WithQueue(0);
        Assert.Equal("onError", Assert.Throws<ArgumentNullException>(() => builder.OnError(null!)).ParamName);
        Assert.Equal("onDropped", Assert.Throws<ArgumentNullException>(() => builder.OnDropped(null!)).ParamName);
        Assert.Equal("pipeline", Assert.Throws<ArgumentNullException>(() => builder.WithResilience(null!)).ParamName);

        var error = Assert.Throws<ArgumentException>(builder.Build);

        Assert.Equal(
            "Invalid WorkerPoolOptions: MaxDegreeOfParallelism = -1: must be greater than zero; QueueCapacity = 0: must be greater than zero. "
            + "(Parameter 'MaxDegreeOfParallelism')",
            error.Message);
    }

    [Fact]
    public async Task BuilderSetsTheSharedOptions()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        WorkerPoolOptions? seen = null;
        await using var pool = Exec.WorkerPool()
            .WithName("named")
            .WithTimeProvider(time)
            .WithDrainTimeout(TimeSpan.FromSeconds(3))
            .Configure(options => seen = options)
            .Build();

        Assert.Equal("named", pool.Name);
        Assert.Equal("named", pool.GetStatistics().Name);
        Assert.Equal((TimeSpan.FromSeconds(3), (TimeProvider)time), (seen!.DrainTimeout, seen.TimeProvider));
    }

    [Fact]
    public async Task BuilderIsSingleUse()
    {
        var builder = Exec.WorkerPool().WithMaxDegreeOfParallelism(1);
        await using var pool = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => builder.WithMaxDegreeOfParallelism(2));
        Assert.Contains("already built", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(builder.Build);
    }

    [Fact]
    public async Task OptionsAreCopiedAtConstruction()
    {
        var options = new WorkerPoolOptions { MaxDegreeOfParallelism = 2, QueueCapacity = 4 };
        await using var pool = new WorkerPool(options);
        options.MaxDegreeOfParallelism = 50;

        Assert.Equal(2, pool.MaxDegreeOfParallelism);
        Assert.Equal(2, pool.GetStatistics().MaxDegreeOfParallelism);
    }

    [Fact]
    public void NullOptionsThrowArgumentNull()
    {
        var error = Assert.Throws<ArgumentNullException>(() => new WorkerPool(null!));
        Assert.Equal("options", error.ParamName);
    }
}
