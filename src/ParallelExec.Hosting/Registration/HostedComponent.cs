namespace ParallelExec.Hosting.Registration;

/// <summary>A built component and what the lifetime service and the health check need to know about it.</summary>
internal sealed class HostedComponent(ComponentRegistration registration, object instance, ComponentOptions options, Logging.ComponentLog log)
{
    public ComponentRegistration Registration { get; } = registration;

    /// <summary>Gets the instance the container hands out (for example the <c>WorkerPool</c>).</summary>
    public object Instance { get; } = instance;

    /// <summary>Gets the component's lifecycle, or <see langword="null"/> for a store that holds no work.</summary>
    public IExecComponent? Lifecycle => Instance as IExecComponent;

    /// <summary>Gets the validated options the component was built from (its <c>DrainTimeout</c> set to zero: see <see cref="DrainTimeout"/>).</summary>
    public ComponentOptions Options { get; } = options;

    public Logging.ComponentLog Log { get; } = log;

    /// <summary>
    /// Gets or sets the drain timeout the user configured. The component itself is built with a zero drain timeout, so
    /// that the lifetime service, which waits for it within this budget and the host's deadline, can cut what is left
    /// at once; infinite means "until the host's deadline".
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>Gets the queue capacity the component was built with, if it has a queue.</summary>
    public int? QueueCapacity { get; init; }

    /// <summary>Gets or sets the spawn failures an agent pool had at the previous health check.</summary>
    public long SpawnFailuresSeen { get; set; }

    public string Kind => Registration.Kind;

    public string Name => Options.Name;
}
