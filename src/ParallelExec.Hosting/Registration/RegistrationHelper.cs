using Microsoft.Extensions.DependencyInjection;

namespace ParallelExec.Hosting.Registration;

/// <summary>
/// Adds one component registration to the service collection: the registration itself (the runtime builds it) and the
/// component under its service type, keyed by its name (<c>[FromKeyedServices("ingest")]</c>) or unkeyed for the
/// unnamed default.
/// </summary>
internal static class RegistrationHelper
{
    public static ComponentRegistration Add<TService>(
        IParallelExecBuilder builder,
        string kind,
        string? name,
        Func<IServiceProvider, ComponentRegistration, HostedComponent> create)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (name is not null && string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException($"A component name must not be empty or white space; it was \"{name}\". Pass null for the unnamed default.", nameof(name));
        }

        var services = builder.Services;
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(ComponentRegistration)
                && descriptor.ImplementationInstance is ComponentRegistration existing
                && existing.ServiceType == typeof(TService)
                && existing.Name == name)
            {
                throw new ArgumentException($"{existing} is already registered: each name is registered once per component type.", nameof(name));
            }
        }

        var registration = new ComponentRegistration(kind, name, typeof(TService), create);
        services.AddSingleton(registration);
        AddService<TService>(services, registration, name);
        return registration;
    }

    /// <summary>Makes a built component resolvable under one more service type (for example a store as <c>IMemoryStore</c>).</summary>
    public static void AddService<TService>(IServiceCollection services, ComponentRegistration registration, string? name)
        where TService : class
    {
        if (name is null)
        {
            services.AddSingleton(sp => (TService)sp.GetRequiredService<ComponentRuntime>().Get(registration).Instance);
        }
        else
        {
            services.AddKeyedSingleton(name, (sp, _) => (TService)sp.GetRequiredService<ComponentRuntime>().Get(registration).Instance);
        }
    }
}
