using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace ParallelExec.Hosting.Registration;

/// <summary>
/// Builds each registered component once, remembers the order they were built in (the lifetime service stops them in
/// the reverse order, as the container disposes singletons: a component stops before what it uses), and hands the
/// same instance to every resolution.
/// </summary>
internal sealed class ComponentRuntime(IEnumerable<ComponentRegistration> registrations, IServiceProvider services)
{
    private readonly ComponentRegistration[] _registrations = [.. registrations];
    private readonly ConcurrentDictionary<ComponentRegistration, Lazy<HostedComponent>> _components = new();
    private readonly List<HostedComponent> _built = [];

    public IReadOnlyList<ComponentRegistration> Registrations => _registrations;

    /// <summary>Gets the component of a registration, building it on first use.</summary>
    /// <exception cref="OptionsValidationException">An option is invalid; the message is the library's own.</exception>
    public HostedComponent Get(ComponentRegistration registration) =>
        _components.GetOrAdd(registration, r => new Lazy<HostedComponent>(() => Build(r))).Value;

    /// <summary>Builds every registered component, in registration order, and returns the message of each invalid one.</summary>
    public List<string> CreateAll()
    {
        var failures = new List<string>();
        foreach (var registration in _registrations)
        {
            try
            {
                Get(registration);
            }
            catch (OptionsValidationException exception)
            {
                failures.AddRange(exception.Failures);
            }
        }

        return failures;
    }

    /// <summary>Gets the built components, most recently built first: the order to stop them in.</summary>
    public HostedComponent[] InStopOrder()
    {
        lock (_built)
        {
            var order = _built.ToArray();
            Array.Reverse(order);
            return order;
        }
    }

    /// <summary>Gets the built components in the order they were built.</summary>
    public HostedComponent[] Built()
    {
        lock (_built)
        {
            return [.. _built];
        }
    }

    private HostedComponent Build(ComponentRegistration registration)
    {
        var component = registration.Create(services, registration);
        lock (_built)
        {
            _built.Add(component);
        }

        return component;
    }
}
