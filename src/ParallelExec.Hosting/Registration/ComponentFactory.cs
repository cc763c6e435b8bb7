using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ParallelExec.Hosting.Logging;

namespace ParallelExec.Hosting.Registration;

/// <summary>
/// Builds one hosted component through the library's own builder, in this order: the code configuration, then the
/// configuration section (so an operator's appsettings value wins over a default written in code), then what the host
/// provides where the user set nothing (clock, meter factory, name), then the logging callbacks around the user's own.
/// The options are validated by the library (<see cref="ComponentOptions.Validate"/>); an invalid value becomes an
/// <see cref="OptionsValidationException"/> carrying the library's message.
/// </summary>
internal static class ComponentFactory
{
    public static HostedComponent Build<TBuilder, TOptions, TComponent>(
        IServiceProvider services,
        ComponentRegistration registration,
        TBuilder builder,
        Action<IServiceProvider, TBuilder>? configure,
        CallbackSlots<TOptions> slots)
        where TBuilder : ComponentBuilder<TBuilder, TOptions, TComponent>
        where TOptions : ComponentOptions
        where TComponent : class
    {
        var (options, log) = Prepare<TBuilder, TOptions, TComponent>(services, registration, builder, configure, slots);

        // The component drains under the lifetime service's control: built with a zero drain timeout, its DisposeAsync
        // cuts at once, after the lifetime service has waited for it within the user's budget and the host's deadline.
        var drainTimeout = options.DrainTimeout;
        options.DrainTimeout = TimeSpan.Zero;
        var component = builder.Build();
        Log.ComponentCreated(log.Logger, registration.Kind, options.Name, registration.SectionPath);
        return new HostedComponent(registration, component, options, log)
        {
            DrainTimeout = drainTimeout,
            QueueCapacity = slots.QueueCapacity?.Invoke(options),
        };
    }

    /// <summary>Configures and validates a builder's options without building the component.</summary>
    public static (TOptions Options, ComponentLog Log) Prepare<TBuilder, TOptions, TComponent>(
        IServiceProvider services,
        ComponentRegistration registration,
        TBuilder builder,
        Action<IServiceProvider, TBuilder>? configure,
        CallbackSlots<TOptions> slots)
        where TBuilder : ComponentBuilder<TBuilder, TOptions, TComponent>
        where TOptions : ComponentOptions
    {
        TOptions options = null!;
        builder.Configure(o => options = o);
        var defaultName = options.Name;

        configure?.Invoke(services, builder);
        Bind(services, registration, options);

        if (registration.Name is not null && options.Name == defaultName)
        {
            options.Name = registration.Name;
        }

        if (ReferenceEquals(options.TimeProvider, TimeProvider.System) && services.GetService<TimeProvider>() is { } clock)
        {
            options.TimeProvider = clock;
        }

        options.MeterFactory ??= services.GetService<IMeterFactory>();

        var loggerFactory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var log = new ComponentLog(loggerFactory.CreateLogger("ParallelExec." + registration.Kind), registration.Kind, options.Name);
        slots.Install(options, log);

        try
        {
            options.Validate();
        }
        catch (ArgumentException exception)
        {
            throw new OptionsValidationException(registration.ToString(), typeof(TOptions), [exception.Message]);
        }

        return (options, log);
    }

    /// <summary>Binds the registration's configuration section onto the options; an unknown or malformed key fails start-up.</summary>
    public static void Bind(IServiceProvider services, ComponentRegistration registration, object options)
    {
        if (services.GetService<IConfiguration>() is not { } configuration)
        {
            return;
        }

        var section = configuration.GetSection(registration.SectionPath);
        if (!section.Exists())
        {
            return;
        }

        try
        {
            section.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException exception)
        {
            throw new OptionsValidationException(registration.ToString(), options.GetType(), [$"Configuration section '{registration.SectionPath}': {exception.Message}"]);
        }
    }
}
