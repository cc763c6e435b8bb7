using System.Diagnostics.Metrics;

namespace ParallelExec;

/// <summary>
/// The options every component shares: its name, its clock, its drain timeout and where its metrics go. Each
/// component's options type derives from this one and adds its own.
/// </summary>
/// <remarks>
/// Options are validated once, when the component is built (<see cref="Validate"/>), and the component copies what it
/// needs, so changing an options object after the build has no effect. The one exception thrown for invalid options
/// lists every bad value by name.
/// </remarks>
public abstract class ComponentOptions
{
    private string? _name;

    /// <summary>Gets or sets the component's name: a tag on its metrics and spans, and part of its drop reports and errors.</summary>
    /// <value>The component kind (for example <c>"WorkerPool"</c>) until set; must not be empty or white space.</value>
    public string Name
    {
        get => _name ?? DefaultName;
        set => _name = value;
    }

    /// <summary>Gets or sets the clock for every delay, timer and timestamp of the component.</summary>
    /// <value><see cref="TimeProvider.System"/> by default; tests pass a fake one.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Gets or sets how long <c>DisposeAsync</c> lets accepted items finish before it cancels what is left and reports it
    /// as dropped with <see cref="DropReason.DrainTimeout"/>.
    /// </summary>
    /// <value><see cref="Timeout.InfiniteTimeSpan"/> (wait for everything) by default; zero cancels at once.</value>
    public TimeSpan DrainTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets the factory that creates the <c>ParallelExec</c> meter (the dependency-injection way, so the
    /// application's metrics pipeline owns it); <see langword="null"/> uses one shared static meter.
    /// </summary>
    /// <value><see langword="null"/> by default.</value>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>Gets the name a component of this kind takes when <see cref="Name"/> is not set.</summary>
    protected abstract string DefaultName { get; }

    /// <summary>Checks every option and throws one exception that names each invalid value.</summary>
    /// <exception cref="ArgumentException">At least one option is invalid; the message lists them all.</exception>
    public void Validate()
    {
        var validator = new OptionsValidator(GetType().Name.Split('`')[0]);
        AddErrors(validator);
        validator.ThrowIfInvalid();
    }

    /// <summary>
    /// Records the invalid values of this options object in <paramref name="validator"/>. A derived type calls the base
    /// first, then checks its own members.
    /// </summary>
    /// <param name="validator">Collects the errors.</param>
    protected virtual void AddErrors(OptionsValidator validator)
    {
        ArgumentNullException.ThrowIfNull(validator);
        validator
            .Require(!string.IsNullOrWhiteSpace(Name), nameof(Name), _name, "must not be empty or white space")
            .RequireNotNull(TimeProvider, nameof(TimeProvider))
            .Require(DrainTimeout >= TimeSpan.Zero || DrainTimeout == Timeout.InfiniteTimeSpan, nameof(DrainTimeout), DrainTimeout,
                "must be zero or greater, or Timeout.InfiniteTimeSpan")
            // Longer spans overflow the timer that waits for the drain (an exception from deep inside DisposeAsync).
            .RequireTimerRange(DrainTimeout, nameof(DrainTimeout));
    }
}
