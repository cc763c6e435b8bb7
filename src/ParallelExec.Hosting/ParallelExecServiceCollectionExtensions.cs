using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ParallelExec.Hosting;
using ParallelExec.Hosting.Lifetime;
using ParallelExec.Hosting.Registration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ParallelExec's shared infrastructure in a service collection.</summary>
public static class ParallelExecServiceCollectionExtensions
{
    /// <summary>
    /// Registers what every hosted component shares: the runtime that builds each registered component once (with the
    /// application's <see cref="TimeProvider"/> when one is registered, its <c>IMeterFactory</c> and its loggers), the
    /// start-up validation of every component's options, and the hosted service that stops them with the host.
    /// Idempotent; chain the component registrations on the result.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <returns>The builder to register components on.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <example>
    /// <code>
    /// builder.Services.AddParallelExec()
    ///     .AddWorkerPool("ingest", pool => pool.WithMaxDegreeOfParallelism(8))
    ///     .AddCoordinationBus();
    /// </code>
    /// </example>
    public static IParallelExecBuilder AddParallelExec(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<ComponentRuntime>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ParallelExecLifetime>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StartupCheck>, StartupValidator>());
        services.AddOptions<StartupCheck>().ValidateOnStart();
        return new ParallelExecBuilder(services);
    }
}
