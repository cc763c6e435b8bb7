using ParallelExec.Coordination;
using ParallelExec.Hosting.Registration;

namespace ParallelExec.Hosting;

/// <summary>Registers <see cref="CoordinationBus"/>es with the host.</summary>
public static class CoordinationBusRegistration
{
    /// <summary>
    /// Registers a coordination bus, unkeyed or keyed by <paramref name="name"/>, bound from
    /// <c>ParallelExec:CoordinationBus:&lt;name&gt;</c>; its dead letters are logged as well as kept.
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The bus's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a bus of that name is already registered.</exception>
    public static IParallelExecBuilder AddCoordinationBus(this IParallelExecBuilder builder, string? name = null, Action<CoordinationBusBuilder>? configure = null) =>
        builder.AddCoordinationBus(name, configure is null ? null : (_, b) => configure(b));

    /// <summary>Registers a coordination bus whose configuration reads services.</summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The bus's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder with the application's services at hand.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a bus of that name is already registered.</exception>
    public static IParallelExecBuilder AddCoordinationBus(this IParallelExecBuilder builder, string? name, Action<IServiceProvider, CoordinationBusBuilder>? configure)
    {
        RegistrationHelper.Add<CoordinationBus>(builder, "CoordinationBus", name, (services, registration) =>
            ComponentFactory.Build<CoordinationBusBuilder, CoordinationBusOptions, CoordinationBus>(services, registration, Exec.Bus(), configure, Slots));
        return builder;
    }

    private static readonly CallbackSlots<CoordinationBusOptions> Slots = new()
    {
        Dropped = (o => o.OnDropped, (o, c) => o.OnDropped = c),
        Failed = (o => o.OnError, (o, c) => o.OnError = c),
        DeadLettered = (o => o.OnDeadLetter, (o, c) => o.OnDeadLetter = c),
        QueueCapacity = o => o.QueueCapacity,
    };
}
