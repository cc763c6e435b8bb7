using System.Collections.Concurrent;
using ParallelExec.Agents;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// An in-process agent factory for pool tests: creates <see cref="DelegateAgent"/>s whose requests are served by a
/// shared handler, records every agent and spec, counts concurrent creations, and can hold creations at a gate.
/// </summary>
internal sealed class RecordingFactory : IAgentFactory<DelegateAgent>
{
    private readonly Func<DelegateAgent, string, CancellationToken, ValueTask<string>> _handler;
    private int _creating;
    private int _calls;
    private int _maxConcurrentCreations;

    public RecordingFactory(Func<DelegateAgent, string, CancellationToken, ValueTask<string>>? handler = null)
    {
        _handler = handler ?? ((agent, request, _) => ValueTask.FromResult(agent.Id + ":" + request));
    }

    public ConcurrentQueue<DelegateAgent> Agents { get; } = new();

    public ConcurrentQueue<AgentSpec> Specs { get; } = new();

    /// <summary>When set, each creation waits for this task (after being counted as creating).</summary>
    public Task? Gate { get; set; }

    /// <summary>When set, creation throws it.</summary>
    public Exception? Failure { get; set; }

    public int Creating => Volatile.Read(ref _creating);

    /// <summary>How many times <see cref="CreateAsync"/> was called, failed and cancelled calls included.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public int MaxConcurrentCreations => Volatile.Read(ref _maxConcurrentCreations);

    /// <summary>Completes each time an agent has been created.</summary>
    public System.Threading.Channels.Channel<DelegateAgent> Created { get; } = System.Threading.Channels.Channel.CreateUnbounded<DelegateAgent>();

    public async ValueTask<DelegateAgent> CreateAsync(AgentSpec spec, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        var now = Interlocked.Increment(ref _creating);
        int seen;
        while ((seen = Volatile.Read(ref _maxConcurrentCreations)) < now && Interlocked.CompareExchange(ref _maxConcurrentCreations, now, seen) != seen)
        {
        }

        try
        {
            if (Gate is { } gate)
            {
                await gate.WaitAsync(cancellationToken);
            }

            if (Failure is { } failure)
            {
                throw failure;
            }

            Specs.Enqueue(spec);
            DelegateAgent? agent = null;
            agent = new DelegateAgent(spec.Name, (request, token) => _handler(agent!, request, token));
            Agents.Enqueue(agent);
            Created.Writer.TryWrite(agent);
            return agent;
        }
        finally
        {
            Interlocked.Decrement(ref _creating);
        }
    }

    public async Task<DelegateAgent> NextCreatedAsync() => await Created.Reader.ReadAsync().AsTask().WithTimeoutLocal();
}

internal static class LocalTimeoutExtensions
{
    public static Task<T> WithTimeoutLocal<T>(this Task<T> task) => ParallelExec.Tests.Infrastructure.TestTimeout.WithTimeout(task);
}
