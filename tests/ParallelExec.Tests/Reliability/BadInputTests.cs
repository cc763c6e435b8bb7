using ParallelExec.Agents;
using ParallelExec.Batching;
using ParallelExec.Coordination;
using ParallelExec.Files;
using ParallelExec.Memory;
using ParallelExec.Net;
using ParallelExec.Scheduling;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// One table of bad input across every component: each row calls a public constructor, builder or method with a null,
/// empty, zero, negative or huge value and names the exception type and the parameter it must name. The options types'
/// bad values are in <see cref="OptionsBadValueTests"/> (read by reflection); SQLite's rows are in the SQLite tests.
/// </summary>
public sealed class BadInputTests
{
    private static readonly Func<CancellationToken, ValueTask> NoWork = _ => ValueTask.CompletedTask;

    /// <summary>(description, call, expected exception type, expected ParamName).</summary>
    public static TheoryData<string, Action, Type, string> Rows()
    {
        var rows = new TheoryData<string, Action, Type, string>();
        void Row(string description, Action call, Type type, string parameter) => rows.Add(description, call, type, parameter);
        Type nullArg = typeof(ArgumentNullException), range = typeof(ArgumentOutOfRangeException), arg = typeof(ArgumentException);

        // Workers
        Row("WorkerPool ctor null options", () => _ = new WorkerPool(null!), nullArg, "options");
        Row("WorkerPool options MaxDegreeOfParallelism=0", () => _ = new WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = 0 }), arg, "MaxDegreeOfParallelism");
        Row("WorkerPool options QueueCapacity=-1", () => _ = new WorkerPool(new WorkerPoolOptions { QueueCapacity = -1 }), arg, "QueueCapacity");
        Row("WorkerPool builder WithMaxDegreeOfParallelism(0)", () => Exec.WorkerPool().WithMaxDegreeOfParallelism(0).Build(), arg, "MaxDegreeOfParallelism");
        Row("WorkerPool builder WithMaxDegreeOfParallelism(-1)", () => Exec.WorkerPool().WithMaxDegreeOfParallelism(-1).Build(), arg, "MaxDegreeOfParallelism");
        Row("WorkerPool builder WithQueue(0)", () => Exec.WorkerPool().WithQueue(0).Build(), arg, "QueueCapacity");
        Row("WorkerPool builder WithName(null)", () => Exec.WorkerPool().WithName(null!).Build(), nullArg, "name");
        Row("WorkerPool builder WithTimeProvider(null)", () => Exec.WorkerPool().WithTimeProvider(null!).Build(), nullArg, "timeProvider");
        Row("WorkerPool RunAsync(null)", () => WithPool(p => p.RunAsync(null!).AsTask().GetAwaiter().GetResult()), nullArg, "work");
        Row("WorkerPool TryPost(null)", () => WithPool(p => p.TryPost(null!)), nullArg, "work");
        Row("WorkerPool TryPost(null key)", () => WithPool(p => p.TryPost(null!, NoWork)), nullArg, "key");
        Row("WorkerPool SetMaxDegreeOfParallelism(0)", () => WithPool(p => p.SetMaxDegreeOfParallelism(0)), range, "maxDegreeOfParallelism");
        Row("Exec.ForEachAsync maxDegreeOfParallelism=0", () => Exec.ForEachAsync(new[] { 1 }, 0, (i, _) => ValueTask.FromResult(i)).GetAwaiter().GetResult(), range, "maxDegreeOfParallelism");
        Row("Exec.ForEachAsync null items", () => Exec.ForEachAsync((IEnumerable<int>)null!, 2, (i, _) => ValueTask.FromResult(i)).GetAwaiter().GetResult(), nullArg, "items");

        // Batching
        Row("Batch null handler", () => Exec.Batch<int, int>(null!), nullArg, "handler");
        Row("Batch WithMaxBatchSize(0)", () => Exec.Batch<int, int>(Echo).WithMaxBatchSize(0).Build(), arg, "MaxBatchSize");
        Row("Batch WithMaxDegreeOfParallelism(-1)", () => Exec.Batch<int, int>(Echo).WithMaxDegreeOfParallelism(-1).Build(), arg, "MaxDegreeOfParallelism");
        Row("Batch WithMaxDelay(negative)", () => Exec.Batch<int, int>(Echo).WithMaxDelay(TimeSpan.FromSeconds(-1)).Build(), arg, "MaxDelay");
        Row("Batch WithQueue(0)", () => Exec.Batch<int, int>(Echo).WithQueue(0).Build(), arg, "QueueCapacity");
        Row("Batch options MaxBatchSize=0", () => _ = new BatchProcessor<int, int>(Echo, new BatchProcessorOptions<int> { MaxBatchSize = 0 }), arg, "MaxBatchSize");
        Row("Batch ctor null options", () => _ = new BatchProcessor<int, int>(Echo, null!), nullArg, "options");
        Row("Batch SubmitManyAsync(null)", () => WithBatch(b => b.SubmitManyAsync(null!).AsTask().GetAwaiter().GetResult()), nullArg, "items");

        // Coordination
        Row("Bus options QueueCapacity=0", () => _ = new CoordinationBus(new CoordinationBusOptions { QueueCapacity = 0 }), arg, "QueueCapacity");
        Row("Bus WithQueue(0)", () => Exec.Bus().WithQueue(0).Build(), arg, "QueueCapacity");
        Row("Bus PublishAsync(null topic)", () => WithBus(b => b.PublishAsync<int>(null!, 1).AsTask().GetAwaiter().GetResult()), nullArg, "topic");
        Row("Bus PublishAsync(empty topic)", () => WithBus(b => b.PublishAsync("", 1).AsTask().GetAwaiter().GetResult()), arg, "topic");
        Row("Bus Subscribe(null pattern)", () => WithBus(b => b.Subscribe<int>(null!, _ => { })), nullArg, "pattern");
        Row("Bus Subscribe(null handler)", () => WithBus(b => b.Subscribe<int>("a", (Action<BusMessage<int>>)null!)), nullArg, "handler");
        Row("Bus CreateBarrier(0)", () => WithBus(b => b.CreateBarrier(0)), range, "participantCount");
        Row("Bus ScatterGather window negative", () => WithBus(b => b.ScatterGatherAsync<int, int>("a", 1, TimeSpan.FromSeconds(-1)).GetAwaiter().GetResult()), range, "window");

        // Agents
        Row("Agents null factory", () => Exec.Agents((IAgentFactory<DelegateAgent>)null!), nullArg, "factory");
        Row("Agents WithMaxAgents(0)", () => Exec.Agents<DelegateAgent>(CreateAgent).WithMaxAgents(0).Build(), arg, "MaxAgents");
        Row("Agents WithMaxConcurrencyPerAgent(-1)", () => Exec.Agents<DelegateAgent>(CreateAgent).WithMaxConcurrencyPerAgent(-1).Build(), arg, "MaxConcurrencyPerAgent");
        Row("Agents WithQueue(0)", () => Exec.Agents<DelegateAgent>(CreateAgent).WithQueue(0).Build(), arg, "QueueCapacity");
        Row("AgentPool options MaxAgents=0", () => _ = new AgentPool<DelegateAgent>(new DelegateAgentFactory<DelegateAgent>(CreateAgent), new AgentPoolOptions { MaxAgents = 0 }), arg, "MaxAgents");
        Row("DelegateAgent null id", () => _ = new DelegateAgent(null!, (r, _) => ValueTask.FromResult(r)), nullArg, "id");
        Row("DelegateAgent null handler", () => _ = new DelegateAgent("a", null!), nullArg, "handler");
        Row("AgentPool RunAsync(null)", () => WithAgents(p => p.RunAsync(null!).AsTask().GetAwaiter().GetResult()), nullArg, "request");
        Row("AgentPool WarmUpAsync(-1)", () => WithAgents(p => p.WarmUpAsync(-1).GetAwaiter().GetResult()), range, "agentCount");

        // Scheduling
        Row("Graph AddTask(null id)", () => Exec.Graph().AddTask(null!, (_, _) => ValueTask.CompletedTask), nullArg, "id");
        Row("Graph AddTask(empty id)", () => Exec.Graph().AddTask("", (_, _) => ValueTask.CompletedTask), arg, "id");
        Row("Graph AddTask(null body)", () => Exec.Graph().AddTask("a", (Func<TaskGraphContext, CancellationToken, ValueTask>)null!), nullArg, "body");
        Row("Graph WithMaxDegreeOfParallelism(0)", () => Exec.Graph().WithMaxDegreeOfParallelism(0).Build(), arg, "MaxDegreeOfParallelism");

        // Memory
        Row("Store SetAsync(null namespace)", () => new InMemoryStore().SetAsync(null!, "k", new byte[1]).AsTask().GetAwaiter().GetResult(), nullArg, "namespaceName");
        Row("Store GetAsync(null key)", () => new InMemoryStore().GetAsync("ns", null!).AsTask().GetAwaiter().GetResult(), nullArg, "key");
        Row("Store SetAsync(empty key)", () => new InMemoryStore().SetAsync("ns", "", new byte[1]).AsTask().GetAwaiter().GetResult(), arg, "key");
        Row("Store SetAsync(negative TTL)", () => new InMemoryStore().SetAsync("ns", "k", new byte[1], TimeSpan.FromSeconds(-1)).AsTask().GetAwaiter().GetResult(), range, "timeToLive");

        Row("BatchingMemoryStore null inner", () => _ = new BatchingMemoryStore(null!), nullArg, "inner");
        Row("BatchingMemoryStore SetAsync(empty namespace)", () => new BatchingMemoryStore(new InMemoryStore()).SetAsync("", "k", new byte[1]).AsTask().GetAwaiter().GetResult(), arg, "namespaceName");

        // Files
        Row("Files WithMaxDegreeOfParallelism(0)", () => Exec.Files().WithMaxDegreeOfParallelism(0).Build(), arg, "MaxDegreeOfParallelism");
        Row("Files ctor BufferSize huge", () => _ = new ParallelFiles(new ParallelFilesOptions { BufferSize = int.MaxValue }), arg, "BufferSize");
        Row("Files ReadAllAsync(null)", () => new ParallelFiles().ReadAllAsync(null!).GetAsyncEnumerator().MoveNextAsync().AsTask().GetAwaiter().GetResult(), nullArg, "paths");
        Row("Files WriteAllAsync(null)", () => new ParallelFiles().WriteAllAsync(null!).GetAsyncEnumerator().MoveNextAsync().AsTask().GetAwaiter().GetResult(), nullArg, "files");

        // The network gate
        Row("Gate ctor null options", () => _ = new HttpGate(null!), nullArg, "options");
        Row("Gate AddProvider(null name)", () => Exec.Http().AddProvider(null!, new ProviderLimits()), nullArg, "name");
        Row("Gate AddProvider(null limits)", () => Exec.Http().AddProvider("a", null!), nullArg, "limits");
        Row("Gate AddProvider(RequestLimit=0)", () => Exec.Http().AddProvider("a", new ProviderLimits { RequestLimit = 0 }).Build(), arg, "Providers[\"a\"].RequestLimit");
        Row("Gate WithHttpClient(null)", () => Exec.Http().WithHttpClient(null!), nullArg, "client");
        Row("Gate WithMaxDegreeOfParallelism(0)", () => Exec.Http().WithMaxDegreeOfParallelism(0).Build(), arg, "MaxDegreeOfParallelism");
        Row("Gate WithQueue(-1)", () => Exec.Http().WithQueue(-1).Build(), arg, "QueueCapacity");
        Row("Gate RunAsync(null provider)", () => WithGate(g => g.RunAsync<int>(null!, _ => ValueTask.FromResult(1)).GetAwaiter().GetResult()), nullArg, "provider");
        Row("Gate RunAsync(null call)", () => WithGate(g => g.RunAsync<int>("a", null!).GetAwaiter().GetResult()), nullArg, "call");
        Row("Gate RunAsync(weight -1)", () => WithGate(g => g.RunAsync("a", _ => ValueTask.FromResult(1), weight: -1).GetAwaiter().GetResult()), range, "weight");
        Row("Gate RunAsync(weight above the limit)", () => WithGate(g => g.RunAsync("w", _ => ValueTask.FromResult(1), weight: int.MaxValue).GetAwaiter().GetResult()), range, "weight");
        Row("Gate SendAsync(null factory)", () => WithGate(g => g.SendAsync("a", null!).GetAwaiter().GetResult()), nullArg, "requestFactory");
        Row("Gate Pause(null provider)", () => WithGate(g => g.Pause(null!, TimeSpan.FromSeconds(1))), nullArg, "provider");
        Row("Gate Pause(negative)", () => WithGate(g => g.Pause("a", TimeSpan.FromSeconds(-1))), range, "duration");
        Row("PooledHttpClient MaxConnectionsPerServer=0", () => PooledHttpClient.Create(new PooledHttpClientOptions { MaxConnectionsPerServer = 0 }), arg, "MaxConnectionsPerServer");

        // Process agents
        Row("ProcessAgentFactory null options", () => _ = new ProcessAgentFactory(null!), nullArg, "options");
        Row("ProcessAgentFactory empty FileName", () => _ = new ProcessAgentFactory(new ProcessAgentOptions()), arg, "FileName");
        Row("ProcessAgent.StartAsync(null options)", () => ProcessAgent.StartAsync(null!).GetAwaiter().GetResult(), nullArg, "options");
        Row("ProcessAgentFactory CreateAsync(null spec)", () => new ProcessAgentFactory(new ProcessAgentOptions { FileName = "dotnet" }).CreateAsync(null!, default).AsTask().GetAwaiter().GetResult(), nullArg, "spec");
        return rows;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void Bad_input_throws_an_ArgumentException_naming_the_parameter(string description, Action call, Type expectedType, string expectedParameter)
    {
        Exception? exception = Record.Exception(call);
        Assert.True(exception is not null, $"{description}: no exception");
        Assert.True(exception.GetType() == expectedType, $"{description}: expected {expectedType.Name}, got {exception.GetType().Name}: {exception.Message}");
        var argumentException = (ArgumentException)exception;
        Assert.True(argumentException.ParamName == expectedParameter, $"{description}: ParamName '{argumentException.ParamName}', expected '{expectedParameter}' ({exception.Message})");
        if (exception is ArgumentOutOfRangeException { ActualValue: { } actual })
        {
            Assert.Contains(Convert.ToString(actual, System.Globalization.CultureInfo.InvariantCulture)!, exception.Message, StringComparison.Ordinal);
        }
    }

    private static ValueTask<IReadOnlyList<int>> Echo(IReadOnlyList<int> items, CancellationToken cancellationToken) => ValueTask.FromResult(items);

    internal static ValueTask<DelegateAgent> CreateAgent(AgentSpec spec, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new DelegateAgent("a", (r, _) => ValueTask.FromResult(r)));

    private static void WithPool(Action<WorkerPool> use)
    {
        var pool = Exec.WorkerPool().Build();
        try { use(pool); } finally { pool.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static void WithBatch(Action<BatchProcessor<int, int>> use)
    {
        var batch = Exec.Batch<int, int>(Echo).Build();
        try { use(batch); } finally { batch.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static void WithBus(Action<CoordinationBus> use)
    {
        var bus = Exec.Bus().Build();
        try { use(bus); } finally { bus.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static void WithGate(Action<HttpGate> use)
    {
        var gate = Exec.Http().AddProvider("w", new ProviderLimits { WeightLimit = 10 }).Build();
        try { use(gate); } finally { gate.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static void WithAgents(Action<AgentPool<DelegateAgent>> use)
    {
        var pool = Exec.Agents<DelegateAgent>(CreateAgent).Build();
        try { use(pool); } finally { pool.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }
}
