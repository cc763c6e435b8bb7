using ParallelExec.Coordination;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>
    /// Starts building a <see cref="CoordinationBus"/>: async pub/sub over dot-separated topics with <c>*</c> (one
    /// segment) and <c>&gt;</c> (the rest) wildcards, a bounded mailbox per subscriber, request/reply, scatter-gather,
    /// dead letters, barriers and waits.
    /// </summary>
    /// <returns>A single-use builder; call <c>Build()</c> to get the bus.</returns>
    /// <example>
    /// <code>
    /// await using var bus = Exec.Bus().WithName("agents").WithQueue(256).Build();
    /// using var done = bus.Subscribe&lt;string&gt;("agents.*.done", m => Console.WriteLine($"{m.Topic}: {m.Message}"));
    /// await bus.PublishAsync("agents.coder.done", "tests green");
    /// </code>
    /// </example>
    public static CoordinationBusBuilder Bus() => new();
}
