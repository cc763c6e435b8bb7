using System.Reflection;
using ParallelExec.Agents;
using ParallelExec.Batching;
using ParallelExec.Coordination;
using ParallelExec.Files;
using ParallelExec.Memory;
using ParallelExec.Net;
using ParallelExec.Scheduling;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Core;

/// <summary>
/// Reads the public API by reflection and fails where a component breaks docs/conventions.md. Each failure message
/// names the type and member, so a new component that drifts is caught the day it is added.
/// </summary>
public class ConventionTests
{
    private static readonly Type[] s_publicTypes = typeof(Exec).Assembly.GetExportedTypes();

    /// <summary>The components that hold work, and so share the one lifecycle.</summary>
    public static TheoryData<Type> WorkHoldingComponents() =>
    [
        typeof(WorkerPool), typeof(BatchProcessor<,>), typeof(CoordinationBus), typeof(AgentPool<>), typeof(HttpGate),
        typeof(ParallelFiles), typeof(TaskGraphRun), typeof(BatchingMemoryStore), typeof(RequestCoalescer<,>),
    ];

    /// <summary>Options types that configure a part of a component, not a component: they carry no name, clock or drain timeout.</summary>
    private static readonly HashSet<Type> s_partOptions =
    [
        typeof(SubscriptionOptions),     // one subscription of a bus
        typeof(TaskNodeOptions),         // one task of a graph
        typeof(ProcessAgentOptions),     // how to start one agent process (the pool's options are AgentPoolOptions)
        typeof(PooledHttpClientOptions), // an HttpClient's connection pool, not a component that holds work
    ];

    /// <summary>Builders of a part, not of a component.</summary>
    private static readonly HashSet<Type> s_partBuilders = [typeof(TaskSetBuilder)];

    /// <summary>Statistics of a part of a component, reached through the component's own statistics.</summary>
    private static readonly HashSet<Type> s_partStatistics = [typeof(ProviderStatistics)];

    /// <summary>Names that one concept had before the conventions, and must not come back.</summary>
    private static readonly string[] s_retiredNames =
    [
        "WorkerCount", "SetWorkerCount", "WithWorkers", "MaxConcurrency", "MaxConcurrentBatches", "WithMaxConcurrentBatches",
        "QueueFullMode", "DisposeTimeout", "WithDisposeTimeout", "WithMailbox", "MailboxCapacity", "MailboxDepth",
        "EnsureSucceeded", "SucceededCount", "FailedCount", "CancelledCount", "SkippedCount",
    ];

    [Theory]
    [MemberData(nameof(WorkHoldingComponents))]
    public void EveryComponentThatHoldsWorkHasTheOneLifecycle(Type component)
    {
        Assert.True(typeof(IExecComponent).IsAssignableFrom(component), $"{component.Name} does not implement IExecComponent.");
        var complete = component.GetMethod(nameof(IExecComponent.Complete), Type.EmptyTypes);
        Assert.True(complete is { IsPublic: true }, $"{component.Name} has no public Complete().");
        var completion = component.GetProperty(nameof(IExecComponent.Completion));
        Assert.True(completion is not null && typeof(Task).IsAssignableFrom(completion.PropertyType), $"{component.Name} has no public Completion task.");
        var statistics = component.GetMethod("GetStatistics", Type.EmptyTypes);
        Assert.True(statistics is not null && typeof(ComponentStatistics).IsAssignableFrom(statistics.ReturnType),
            $"{component.Name}.GetStatistics() does not return a ComponentStatistics.");
        Assert.Null(component.GetMethod("DisposeAsync", [typeof(TimeSpan)]));
    }

    [Fact]
    public void EveryComponentOptionsTypeHasTheSharedMembers()
    {
        var offenders = s_publicTypes
            .Where(type => type.Name.Split('`')[0].EndsWith("Options", StringComparison.Ordinal) && !s_partOptions.Contains(type))
            .Where(type => !typeof(ComponentOptions).IsAssignableFrom(type))
            .Select(type => type.FullName)
            .ToList();
        Assert.True(offenders.Count == 0, "Options types that do not derive ComponentOptions: " + string.Join(", ", offenders));
    }

    [Fact]
    public void EveryBuilderHasConfigureAndIsSingleUse()
    {
        var offenders = s_publicTypes
            .Where(type => type.Name.Split('`')[0].EndsWith("Builder", StringComparison.Ordinal) && !s_partBuilders.Contains(type))
            .Where(type => !DerivesFromGeneric(type, typeof(ComponentBuilder<,,>)))
            .Select(type => type.FullName)
            .ToList();
        Assert.True(offenders.Count == 0, "Builders that do not derive ComponentBuilder: " + string.Join(", ", offenders));
    }

    [Fact]
    public void EveryExecEntryPointReturnsABuilderOrIsAOneLineHelper()
    {
        var offenders = typeof(Exec).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(method => !method.Name.EndsWith("Async", StringComparison.Ordinal))
            .Where(method => !DerivesFromGeneric(method.ReturnType, typeof(ComponentBuilder<,,>)))
            .Select(method => $"Exec.{method.Name} returns {method.ReturnType.Name}")
            .ToList();
        Assert.True(offenders.Count == 0, string.Join("; ", offenders));
    }

    [Fact]
    public void EveryStatisticsTypeCarriesTheLedgerAndIsASnapshot()
    {
        var statistics = s_publicTypes
            .Where(type => type.Name.EndsWith("Statistics", StringComparison.Ordinal) && type != typeof(ComponentStatistics) && !s_partStatistics.Contains(type))
            .ToList();
        Assert.NotEmpty(statistics);
        foreach (var type in statistics)
        {
            Assert.True(typeof(ComponentStatistics).IsAssignableFrom(type), $"{type.Name} does not derive ComponentStatistics.");
            Assert.True(type.IsSealed, $"{type.Name} is not sealed.");
            var setters = type.GetProperties().Where(property => property.SetMethod is { IsPublic: true }).Select(property => property.Name).ToList();
            Assert.True(setters.Count == 0, $"{type.Name} has public setters: {string.Join(", ", setters)}.");
        }
    }

    [Fact]
    public void DropAndErrorCallbacksHaveOnePayloadEach()
    {
        var offenders = new List<string>();
        foreach (var type in s_publicTypes)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                if (property.Name == "OnDropped" && property.PropertyType != typeof(Action<DroppedItem>))
                {
                    offenders.Add($"{type.Name}.OnDropped is {property.PropertyType.Name}");
                }

                if (property.Name == "OnError" && property.PropertyType != typeof(Action<FailedItem>))
                {
                    offenders.Add($"{type.Name}.OnError is {property.PropertyType.Name}");
                }
            }

            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                var parameters = method.GetParameters();
                if (method.Name == "OnDropped" && (parameters.Length != 1 || parameters[0].ParameterType != typeof(Action<DroppedItem>)))
                {
                    offenders.Add($"{type.Name}.OnDropped(...) takes {string.Join(", ", parameters.Select(p => p.ParameterType.Name))}");
                }

                if (method.Name == "OnError" && (parameters.Length != 1 || parameters[0].ParameterType != typeof(Action<FailedItem>)))
                {
                    offenders.Add($"{type.Name}.OnError(...) takes {string.Join(", ", parameters.Select(p => p.ParameterType.Name))}");
                }
            }
        }

        Assert.True(offenders.Count == 0, string.Join("; ", offenders));
    }

    [Fact]
    public void FireAndForgetReturnsThePostResult()
    {
        var offenders = s_publicTypes
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(method => (method.Name == "TryPost" && method.ReturnType != typeof(PostResult))
                || (method.Name == "PostAsync" && method.ReturnType != typeof(ValueTask<PostResult>)))
            .Select(method => $"{method.DeclaringType!.Name}.{method.Name} returns {method.ReturnType.Name}")
            .ToList();
        Assert.True(offenders.Count == 0, string.Join("; ", offenders));
    }

    [Fact]
    public void NoRetiredNameSurvives()
    {
        var offenders = s_publicTypes
            .SelectMany(type => type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(member => s_retiredNames.Contains(member.Name) && member is not Type)
                .Select(member => $"{type.Name}.{member.Name}"))
            .Concat(typeof(Exec).GetMethods().SelectMany(method => method.GetParameters())
                .Where(parameter => parameter.Name is "maxParallel")
                .Select(parameter => $"Exec.{parameter.Member.Name}({parameter.Name})"))
            .Distinct()
            .ToList();
        Assert.True(offenders.Count == 0, "Retired names: " + string.Join(", ", offenders));
    }

    [Fact]
    public void TheConcurrencyBoundHasOneName()
    {
        var offenders = s_publicTypes
            .Where(type => typeof(ComponentOptions).IsAssignableFrom(type))
            .SelectMany(type => type.GetProperties().Where(property => property.PropertyType == typeof(int)
                && property.Name.StartsWith("Max", StringComparison.Ordinal)
                && (property.Name.Contains("Concurren", StringComparison.Ordinal) || property.Name.Contains("Parallel", StringComparison.Ordinal))
                && property.Name is not ("MaxDegreeOfParallelism" or "MaxConcurrencyPerAgent" or "MaxConcurrentSpawns"))
                .Select(property => $"{type.Name}.{property.Name}"))
            .ToList();
        Assert.True(offenders.Count == 0, "Concurrency bounds not named MaxDegreeOfParallelism: " + string.Join(", ", offenders));
    }

    private static bool DerivesFromGeneric(Type type, Type openGeneric)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && current.GetGenericTypeDefinition() == openGeneric)
            {
                return true;
            }
        }

        return false;
    }
}
