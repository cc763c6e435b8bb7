using System.Diagnostics.Metrics;

namespace ParallelExec;

/// <summary>
/// What every builder returned from <see cref="Exec"/> shares: it is single use, it configures one options object
/// (<see cref="Configure"/>, <see cref="WithName"/>, <see cref="WithTimeProvider"/>, <see cref="WithDrainTimeout"/>,
/// <see cref="WithMeterFactory"/>), and <see cref="Build"/> validates the options once and creates the component.
/// </summary>
/// <typeparam name="TBuilder">The derived builder, returned from every fluent call.</typeparam>
/// <typeparam name="TOptions">The component's options type.</typeparam>
/// <typeparam name="TComponent">The component it builds.</typeparam>
public abstract class ComponentBuilder<TBuilder, TOptions, TComponent>
    where TBuilder : ComponentBuilder<TBuilder, TOptions, TComponent>
    where TOptions : ComponentOptions
{
    private bool _built;

    /// <summary>Initializes the builder over an options object it owns.</summary>
    /// <param name="options">The options to configure; the builder fills them in and validates them at <see cref="Build"/>.</param>
    protected ComponentBuilder(TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>Gets the options this builder configures.</summary>
    protected TOptions Options { get; }

    /// <summary>Changes any option directly: the way to reach options without a <c>With</c> method of their own.</summary>
    /// <param name="configure">Called once, now, with the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder Configure(Action<TOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Set(configure);
    }

    /// <summary>Names the component (<see cref="ComponentOptions.Name"/>).</summary>
    /// <param name="name">The name: a tag on metrics and spans, and part of drop reports and errors.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is <see langword="null"/>, empty or white space.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return Set(options => options.Name = name);
    }

    /// <summary>Sets the clock for every delay, timer and timestamp (<see cref="ComponentOptions.TimeProvider"/>).</summary>
    /// <param name="timeProvider">The clock; tests pass a fake one.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="timeProvider"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithTimeProvider(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        return Set(options => options.TimeProvider = timeProvider);
    }

    /// <summary>Sets how long disposal lets accepted items finish before cancelling the rest (<see cref="ComponentOptions.DrainTimeout"/>).</summary>
    /// <param name="drainTimeout">Zero or more, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="drainTimeout"/> is negative and not infinite.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithDrainTimeout(TimeSpan drainTimeout)
    {
        if (drainTimeout < TimeSpan.Zero && drainTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(drainTimeout), drainTimeout, "The drain timeout must be zero or greater, or Timeout.InfiniteTimeSpan.");
        }

        return Set(options => options.DrainTimeout = drainTimeout);
    }

    /// <summary>Creates the <c>ParallelExec</c> meter from an <see cref="IMeterFactory"/> (<see cref="ComponentOptions.MeterFactory"/>).</summary>
    /// <param name="meterFactory">The application's meter factory.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="meterFactory"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithMeterFactory(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        return Set(options => options.MeterFactory = meterFactory);
    }

    /// <summary>Validates the options once and creates the component. A builder builds once.</summary>
    /// <returns>The component.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid value.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TComponent Build()
    {
        ThrowIfBuilt();
        Options.Validate();
        var component = Create(Options);
        _built = true;
        return component;
    }

    /// <summary>Creates the component from the validated options.</summary>
    /// <param name="options">The options, already validated.</param>
    /// <returns>The component.</returns>
    protected abstract TComponent Create(TOptions options);

    /// <summary>Applies a change to the options, refusing it once the builder has built.</summary>
    /// <param name="change">The change.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    protected TBuilder Set(Action<TOptions> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        ThrowIfBuilt();
        change(Options);
        return (TBuilder)this;
    }

    /// <summary>Throws the one "already built" error every builder shares.</summary>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    protected void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException(
                $"This {typeof(TBuilder).Name.Split('`')[0]} has already built its {typeof(TComponent).Name.Split('`')[0]}: a builder is single use. Start a new one from Exec.");
        }
    }
}
