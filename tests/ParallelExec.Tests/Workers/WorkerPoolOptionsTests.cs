using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

public class WorkerPoolOptionsTests
{
    [Fact]
    public void DefaultsAreDocumentedValues()
    {
        var options = new WorkerPoolOptions();
        Assert.Equal(Environment.ProcessorCount, options.WorkerCount);
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
            WorkerCount = 0,
            QueueCapacity = -3,
            FullMode = (QueueFullMode)9,
            TimeProvider = null!,
            Name = null!,
        };

        var error = Assert.Throws<ArgumentException>(() => new WorkerPool(options));

        Assert.Equal(
            "Invalid WorkerPoolOptions: WorkerCount = 0: must be greater than zero; QueueCapacity = -3: must be greater than zero; "
            + "FullMode = 9: must be a defined QueueFullMode value; TimeProvider = null: must not be null; Name = null: must not be null. "
            + "(Parameter 'WorkerCount')",
            error.Message);
        Assert.Equal("WorkerCount", error.ParamName);
    }

    [Fact]
    public void BuilderReportsBadCountsAndNullDelegatesTogether()
    {
        var builder = Exec.WorkerPool().WithWorkers(-1).WithQueue(0).OnError(null!).OnDropped(null!);

        var error = Assert.Throws<ArgumentException>(builder.Build);

        Assert.Equal(
            "Invalid WorkerPoolOptions: WorkerCount = -1: must be greater than zero; QueueCapacity = 0: must be greater than zero; "
            + "OnError = null: must not be null; OnDropped = null: must not be null. (Parameter 'WorkerCount')",
            error.Message);
    }

    [Fact]
    public async Task BuilderIsSingleUse()
    {
        var builder = Exec.WorkerPool().WithWorkers(1);
        await using var pool = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => builder.WithWorkers(2));
        Assert.Contains("already built", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(builder.Build);
    }

    [Fact]
    public async Task OptionsAreCopiedAtConstruction()
    {
        var options = new WorkerPoolOptions { WorkerCount = 2, QueueCapacity = 4 };
        await using var pool = new WorkerPool(options);
        options.WorkerCount = 50;

        Assert.Equal(2, pool.WorkerCount);
        Assert.Equal(2, pool.GetStatistics().WorkerCount);
    }

    [Fact]
    public void NullOptionsThrowArgumentNull()
    {
        var error = Assert.Throws<ArgumentNullException>(() => new WorkerPool(null!));
        Assert.Equal("options", error.ParamName);
    }
}
