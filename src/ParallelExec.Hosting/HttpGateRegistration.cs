using ParallelExec.Hosting.Registration;
using ParallelExec.Net;

namespace ParallelExec.Hosting;

/// <summary>Registers <see cref="HttpGate"/>s with the host.</summary>
public static class HttpGateRegistration
{
    /// <summary>
    /// Registers an HTTP gate, unkeyed or keyed by <paramref name="name"/>, bound from
    /// <c>ParallelExec:HttpGate:&lt;name&gt;</c> (providers' limits under <c>Providers:&lt;provider&gt;</c>). Put it in
    /// front of an <c>IHttpClientFactory</c> client with <c>AddParallelExecGate</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The gate's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a gate of that name is already registered.</exception>
    public static IParallelExecBuilder AddHttpGate(this IParallelExecBuilder builder, string? name = null, Action<HttpGateBuilder>? configure = null)
    {
        RegistrationHelper.Add<HttpGate>(builder, "HttpGate", name, (services, registration) =>
            ComponentFactory.Build<HttpGateBuilder, HttpGateOptions, HttpGate>(
                services, registration, Exec.Http(), configure is null ? null : (_, b) => configure(b), Slots));
        return builder;
    }

    private static readonly CallbackSlots<HttpGateOptions> Slots = new()
    {
        Dropped = (o => o.OnDropped, (o, c) => o.OnDropped = c),
        QueueCapacity = o => o.QueueCapacity,
    };
}
