using ParallelExec.Hosting.Registration;
using ParallelExec.Workers;

namespace ParallelExec.Hosting;

/// <summary>Registers <see cref="WorkerPool"/>s with the host.</summary>
public static class WorkerPoolRegistration
{
    /// <summary>
    /// Registers a worker pool: unkeyed when <paramref name="name"/> is <see langword="null"/>, otherwise keyed by it
    /// (<c>[FromKeyedServices("ingest")] WorkerPool pool</c>). Configured by <paramref name="configure"/>, then by the
    /// configuration section <c>ParallelExec:WorkerPool:&lt;name&gt;</c> (<c>Default</c> for the unnamed one), validated
    /// at start-up, and stopped with the host.
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The pool's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a pool of that name is already registered.</exception>
    public static IParallelExecBuilder AddWorkerPool(this IParallelExecBuilder builder, string? name = null, Action<WorkerPoolBuilder>? configure = null) =>
        builder.AddWorkerPool(name, configure is null ? null : (_, b) => configure(b));

    /// <summary>Registers a worker pool whose configuration reads services (see the other overload).</summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The pool's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder with the application's services at hand.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a pool of that name is already registered.</exception>
    public static IParallelExecBuilder AddWorkerPool(this IParallelExecBuilder builder, string? name, Action<IServiceProvider, WorkerPoolBuilder>? configure)
    {
        RegistrationHelper.Add<WorkerPool>(builder, "WorkerPool", name, (services, registration) =>
            ComponentFactory.Build<WorkerPoolBuilder, WorkerPoolOptions, WorkerPool>(services, registration, Exec.WorkerPool(), configure, Slots));
        return builder;
    }

    private static readonly CallbackSlots<WorkerPoolOptions> Slots = new()
    {
        Dropped = (o => o.OnDropped, (o, c) => o.OnDropped = c),
        Failed = (o => o.OnError, (o, c) => o.OnError = c),
        QueueCapacity = o => o.QueueCapacity,
    };
}
