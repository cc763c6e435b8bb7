using ParallelExec.Agents;
using ParallelExec.Batching;
using ParallelExec.Coordination;
using ParallelExec.Files;
using ParallelExec.Memory;
using ParallelExec.Net;
using ParallelExec.Pipelines;
using ParallelExec.Scheduling;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// Every public options type of ParallelExec, every bad value of each option (null, empty, zero, negative, huge,
/// undefined enum values, negative, infinite and out-of-range spans, NaN and infinite numbers): the public constructor
/// or method that takes the options refuses it with an <see cref="ArgumentException"/> naming the option and quoting
/// the value. The options types are read by reflection: a new one (or a new option) without rows fails
/// <see cref="Every_public_option_has_rows"/>. SQLite's options have their rows in the SQLite test project.
/// </summary>
public sealed class OptionsBadValueTests
{
    private static readonly QueueFullMode BadMode = (QueueFullMode)42;

    // Timer-backed spans beyond what a timer takes (about 49.7 days): refusing them at build time beats an
    // ArgumentOutOfRangeException from a timer deep inside a later call.
    private static readonly TimeSpan Huge = TimeSpan.MaxValue;

    // Beyond HttpClient.Timeout's and SocketsHttpHandler.ConnectTimeout's limit (int.MaxValue ms, about 24.9 days), within a timer's.
    private static readonly TimeSpan BeyondHttpClient = TimeSpan.FromDays(25);
    private static readonly TimeSpan Negative = TimeSpan.FromMilliseconds(-2);

    /// <summary>The table.</summary>
    public static OptionsTable Table { get; } = new OptionsTable()
        // How each type reaches validation through the public API.
        .Type(() => new WorkerPoolOptions(), o => _ = new WorkerPool(o))
        .Type(() => new BatchProcessorOptions<int>(), o => _ = new BatchProcessor<int, int>((items, _) => ValueTask.FromResult(items), o))
        .Type(() => new CoordinationBusOptions(), o => _ = new CoordinationBus(o))
        .Type(() => new SubscriptionOptions(), o =>
        {
            var bus = new CoordinationBus();
            try { bus.Subscribe<int>("a", _ => { }, o); } finally { bus.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
        })
        .Type(() => new AgentPoolOptions(), o => _ = new AgentPool<DelegateAgent>(new DelegateAgentFactory<DelegateAgent>(BadInputTests.CreateAgent), o))
        .Type(() => new AgentSpec(), o => _ = new AgentPool<DelegateAgent>(new DelegateAgentFactory<DelegateAgent>(BadInputTests.CreateAgent), new AgentPoolOptions { Spec = o }))
        .Type(() => new ProcessAgentOptions { FileName = "dotnet" }, o => _ = new ProcessAgentFactory(o))
        .Type(() => new TaskGraphOptions(), o => o.Validate())
        .Type(() => new TaskNodeOptions(), o => Exec.Graph().AddTask("a", (_, _) => ValueTask.CompletedTask, o).Build())
        .Type(() => new HttpGateOptions(), o => _ = new HttpGate(o))
        .Type(() => new ProviderLimits(), o => _ = new HttpGate(new HttpGateOptions { DefaultLimits = o }))
        .Type(() => new PooledHttpClientOptions(), o => PooledHttpClient.Create(o).Dispose())
        .Type(() => new ParallelFilesOptions(), o => _ = new ParallelFiles(o))
        .Type(() => new InMemoryStoreOptions(), o => _ = new InMemoryStore(o))
        .Type(() => new BatchingMemoryStoreOptions(), o => _ = new BatchingMemoryStore(new InMemoryStore(), o))
        // A pipeline's options reach validation through its builder only: copy the row's options into it.
        .Type(() => new PipelineOptions(), o => Exec.Pipeline<int>().Configure(p => CopySettableProperties(o, p)).ForEach(_ => { }))

        // Every ComponentOptions type: the shared options.
        .Bad<ComponentOptions>(nameof(ComponentOptions.Name), "", "   ")
        .Bad<ComponentOptions>(nameof(ComponentOptions.TimeProvider), [null])
        .Bad<ComponentOptions>(nameof(ComponentOptions.DrainTimeout), Negative, TimeSpan.MinValue, Huge)

        .Bad<WorkerPoolOptions>(nameof(WorkerPoolOptions.MaxDegreeOfParallelism), 0, -1, int.MinValue)
        .Bad<WorkerPoolOptions>(nameof(WorkerPoolOptions.QueueCapacity), 0, -1)
        .Bad<WorkerPoolOptions>(nameof(WorkerPoolOptions.FullMode), BadMode)
        .Bad<WorkerPoolOptions>(nameof(WorkerPoolOptions.PriorityLanes), 0, -1, 17, int.MaxValue)
        .Bad<WorkerPoolOptions>(nameof(WorkerPoolOptions.StarvationLimit), 0, -1, int.MinValue)
        .Bad<PipelineOptions>(nameof(PipelineOptions.FailurePolicy), (PipelineFailurePolicy)99)
        .AnyValue<PipelineOptions>(nameof(PipelineOptions.OnError), "a callback; null means failures are only counted and recorded")
        .AnyValue<PipelineOptions>(nameof(PipelineOptions.OnDropped), "a callback; null means drops are only counted and recorded")

        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MaxBatchSize), 0, -1)
        .BadWith<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MaxBatchSize), int.MaxValue, o => o.QueueCapacity = int.MaxValue)
        .BadWith<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MaxBatchSize), (1 << 20) + 1, o => o.QueueCapacity = 1 << 21)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MaxDelay), TimeSpan.Zero, Negative, Huge)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MaxDegreeOfParallelism), 0, -1)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.QueueCapacity), 0, -1, 99)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.FullMode), BadMode)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.FailureMode), (BatchFailureMode)42)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MissingKeyBehavior), (MissingKeyBehavior)42)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.MinBatchSize), 0, 101)
        .Bad<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.TargetLatency), TimeSpan.Zero, Negative, Huge)
        .AnyValue<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.Coalesce), "a switch")
        .AnyValue<BatchProcessorOptions<int>>(nameof(BatchProcessorOptions<int>.AdaptiveBatchSize), "a switch")

        .Bad<CoordinationBusOptions>(nameof(CoordinationBusOptions.QueueCapacity), 0, -1)
        .Bad<CoordinationBusOptions>(nameof(CoordinationBusOptions.FullMode), BadMode)
        .Bad<CoordinationBusOptions>(nameof(CoordinationBusOptions.RequestTimeout), TimeSpan.Zero, Negative, Huge)
        .Bad<CoordinationBusOptions>(nameof(CoordinationBusOptions.DeadLetterCapacity), -1)

        .Bad<SubscriptionOptions>(nameof(SubscriptionOptions.Name), "", "  ")
        .Bad<SubscriptionOptions>(nameof(SubscriptionOptions.QueueCapacity), 0, -1)
        .Bad<SubscriptionOptions>(nameof(SubscriptionOptions.FullMode), BadMode)
        .Bad<SubscriptionOptions>(nameof(SubscriptionOptions.MaxDegreeOfParallelism), 0, -1)

        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.Spec), [null])
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.MaxAgents), 0, -1)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.MinIdle), -1, 5)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.MaxConcurrentSpawns), 0, -1)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.MaxConcurrencyPerAgent), 0, -1)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.QueueCapacity), 0, -1)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.FullMode), BadMode)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.LoadBalancing), (LoadBalancingStrategy)42)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.MaxAffinityKeys), 0, -1)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.MaxUses), -1)
        .Bad<AgentPoolOptions>(nameof(AgentPoolOptions.IdleTimeout), TimeSpan.Zero, Negative, Huge)

        .Bad<AgentSpec>(nameof(AgentSpec.Kind), null, "", " ")
        .Bad<AgentSpec>(nameof(AgentSpec.Name), null, "", " ")
        .Bad<AgentSpec>(nameof(AgentSpec.Arguments), [null])

        .Bad<ProcessAgentOptions>(nameof(ProcessAgentOptions.FileName), null, "", "  ")
        .Bad<ProcessAgentOptions>(nameof(ProcessAgentOptions.StartupTimeout), TimeSpan.Zero, Negative, Huge)
        .Bad<ProcessAgentOptions>(nameof(ProcessAgentOptions.MaxStandardErrorLength), -1, ProcessAgentOptions.MaxLineLengthLimit + 1)
        .Bad<ProcessAgentOptions>(nameof(ProcessAgentOptions.MaxLineLength), 0, -1, ProcessAgentOptions.MaxLineLengthLimit + 1, int.MaxValue)
        .AnyValue<ProcessAgentOptions>(nameof(ProcessAgentOptions.InheritEnvironment), "a switch")
        .AnyValue<ProcessAgentOptions>(nameof(ProcessAgentOptions.ContainProcessTree), "a switch")
        .AnyValue<ProcessAgentOptions>(nameof(ProcessAgentOptions.WorkingDirectory), "null is the host's directory; any other path is checked by the operating system when the agent starts")
        .Bad<ProcessAgentOptions>(nameof(ProcessAgentOptions.TimeProvider), [null])

        .Bad<TaskGraphOptions>(nameof(TaskGraphOptions.MaxDegreeOfParallelism), 0, -1)
        .Bad<TaskGraphOptions>(nameof(TaskGraphOptions.FailurePolicy), (FailurePolicy)42)

        .Bad<TaskNodeOptions>(nameof(TaskNodeOptions.DependsOn), [null])
        .Bad<TaskNodeOptions>(nameof(TaskNodeOptions.CostEstimate), double.NaN, double.PositiveInfinity, double.NegativeInfinity, -1.0)
        .Bad<TaskNodeOptions>(nameof(TaskNodeOptions.Timeout), TimeSpan.Zero, Negative, Huge)
        .AnyValue<TaskNodeOptions>(nameof(TaskNodeOptions.Priority), "an order among ready tasks: every int is one")

        .Bad<HttpGateOptions>(nameof(HttpGateOptions.MaxDegreeOfParallelism), 0, -1)
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.QueueCapacity), 0, -1)
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.FullMode), BadMode)
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.DefaultLimits), [null])
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.DefaultThrottlePause), TimeSpan.Zero, Negative, Huge)
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.MaxThrottlePause), TimeSpan.Zero, Negative, Huge)
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.ClientOptions), [null])
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.MaxResponseContentLength), 0L, -1L, HttpGateOptions.MaxResponseContentLengthLimit + 1, long.MaxValue)
        .Bad<HttpGateOptions>(nameof(HttpGateOptions.RedirectPolicy), (HttpRedirectPolicy)99)

        .Bad<ProviderLimits>(nameof(ProviderLimits.RequestLimit), 0, -1)
        .Bad<ProviderLimits>(nameof(ProviderLimits.RequestPeriod), TimeSpan.Zero, Negative, Huge)
        .Bad<ProviderLimits>(nameof(ProviderLimits.WeightLimit), 0, -1)
        .Bad<ProviderLimits>(nameof(ProviderLimits.WeightPeriod), TimeSpan.Zero, Negative, Huge)
        .AnyValue<ProviderLimits>(nameof(ProviderLimits.CountFromCompletion), "a switch")

        .Bad<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.PooledConnectionLifetime), Negative, TimeSpan.MinValue, Huge)
        .Bad<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.PooledConnectionIdleTimeout), Negative, TimeSpan.MinValue, Huge)
        .Bad<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.MaxConnectionsPerServer), 0, -1)
        .Bad<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.ConnectTimeout), TimeSpan.Zero, Negative, BeyondHttpClient, Huge)
        .Bad<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.RequestTimeout), TimeSpan.Zero, Negative, BeyondHttpClient, Huge)
        .AnyValue<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.EnableMultipleHttp2Connections), "a switch")
        .AnyValue<PooledHttpClientOptions>(nameof(PooledHttpClientOptions.AllowAutoRedirect), "a switch")

        .Bad<ParallelFilesOptions>(nameof(ParallelFilesOptions.MaxDegreeOfParallelism), 0, -1)
        .Bad<ParallelFilesOptions>(nameof(ParallelFilesOptions.StreamingThreshold), -1)
        .Bad<ParallelFilesOptions>(nameof(ParallelFilesOptions.BufferSize), 0, -1, (64 * 1024 * 1024) + 1, int.MaxValue)
        .AnyValue<ParallelFilesOptions>(nameof(ParallelFilesOptions.AtomicWrites), "a switch")
        .AnyValue<ParallelFilesOptions>(nameof(ParallelFilesOptions.FlushToDisk), "a switch")
        .Bad<ParallelFilesOptions>(nameof(ParallelFilesOptions.RootDirectory), "", "/no/such/directory/parallelexec")

        .Bad<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.MaxBatchSize), 0, -1)
        .Bad<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.MaxDelay), TimeSpan.Zero, Negative, Huge)
        .Bad<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.MaxDegreeOfParallelism), 0, -1)
        .Bad<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.QueueCapacity), 0, -1)
        .Bad<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.ReadCacheTimeToLive), TimeSpan.Zero, Negative, Huge)
        .Bad<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.ReadCacheCapacity), 0, -1)
        .AnyValue<BatchingMemoryStoreOptions>(nameof(BatchingMemoryStoreOptions.EagerFlush), "a switch");

    /// <summary>Copies every public settable property of <paramref name="source"/> onto <paramref name="target"/>.</summary>
    private static void CopySettableProperties<T>(T source, T target)
    {
        foreach (var property in typeof(T).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (property.CanRead && property.CanWrite && property.SetMethod!.IsPublic)
            {
                property.SetValue(target, property.GetValue(source));
            }
        }
    }

    /// <summary>(type, option, value) of every row, a row on ComponentOptions once per component options type.</summary>
    public static TheoryData<string, string, string> Rows() => Table.Rows();

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_bad_option_is_refused_naming_it_and_its_value(string type, string property, string value) =>
        Table.AssertRefused(type, property, value);

    [Fact]
    public void Every_public_option_has_rows() => Table.AssertEveryOptionHasRows(typeof(WorkerPool).Assembly, "OptionsBadValueTests.Table");
}
