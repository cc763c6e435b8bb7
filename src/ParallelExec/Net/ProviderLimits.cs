namespace ParallelExec.Net;

/// <summary>
/// The rate limits of one provider (one partition of an <see cref="HttpGate"/>): how many requests, and how much
/// caller-estimated weight (for example model tokens), may start within a sliding period.
/// </summary>
/// <remarks>
/// Both limits are sliding windows: at no instant have more than <see cref="RequestLimit"/> calls started within the
/// last <see cref="RequestPeriod"/>, nor more than <see cref="WeightLimit"/> weight within the last
/// <see cref="WeightPeriod"/>. A sliding window never bursts above what a fixed-window or token-bucket server allows for
/// the same numbers, so a gate configured with a provider's published limits does not provoke 429s. A limit left
/// <see langword="null"/> is not enforced. The gate copies the limits when it is built.
/// </remarks>
public sealed class ProviderLimits
{
    /// <summary>Gets or sets how many calls may start within <see cref="RequestPeriod"/>.</summary>
    /// <value><see langword="null"/> (no request limit). Must be greater than zero when set.</value>
    public int? RequestLimit { get; set; }

    /// <summary>Gets or sets the sliding period <see cref="RequestLimit"/> counts over.</summary>
    /// <value>One second. Must be greater than zero.</value>
    public TimeSpan RequestPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how much weight (the sum of the callers' estimates) may start within <see cref="WeightPeriod"/>.</summary>
    /// <value><see langword="null"/> (no weight limit). Must be greater than zero when set.</value>
    public int? WeightLimit { get; set; }

    /// <summary>Gets or sets the sliding period <see cref="WeightLimit"/> counts over.</summary>
    /// <value>One minute (model providers publish tokens per minute). Must be greater than zero.</value>
    public TimeSpan WeightPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets or sets whether a call's request and weight permits come back one period after the call has ended
    /// (<see langword="true"/>) rather than one period after it was admitted (<see langword="false"/>).
    /// </summary>
    /// <value>
    /// <see langword="true"/>. A provider counts a call when it arrives, which is after the gate admitted it (connection
    /// queueing, the network, a GC pause) but before its answer: counting from the end makes it impossible for the
    /// provider to see more than the limit in any period, at the cost of the call's duration per permit cycle (with
    /// 20 ms calls and a one-second window, 98% of the allowed rate). Set <see langword="false"/> for long calls against
    /// a long window (a 30-second model call against tokens per minute) and let the rare 429 pause and retry.
    /// </value>
    public bool CountFromCompletion { get; set; } = true;

    /// <summary>Records the invalid values of these limits, named under <paramref name="prefix"/>.</summary>
    /// <param name="validator">Collects the errors.</param>
    /// <param name="prefix">How the options name these limits, for example <c>Providers["openai"]</c>.</param>
    internal void AddErrors(OptionsValidator validator, string prefix) =>
        validator
            .Require(RequestLimit is null or > 0, prefix + "." + nameof(RequestLimit), RequestLimit, "must be greater than zero or null")
            .RequirePositive(RequestPeriod, prefix + "." + nameof(RequestPeriod))
            .Require(WeightLimit is null or > 0, prefix + "." + nameof(WeightLimit), WeightLimit, "must be greater than zero or null")
            .RequirePositive(WeightPeriod, prefix + "." + nameof(WeightPeriod))
            // Permits come back on timers: longer periods would fail at the first admitted call instead of here.
            .RequireTimerRange(RequestPeriod, prefix + "." + nameof(RequestPeriod))
            .RequireTimerRange(WeightPeriod, prefix + "." + nameof(WeightPeriod));

    internal ProviderLimits Clone() => new()
    {
        CountFromCompletion = CountFromCompletion,
        RequestLimit = RequestLimit,
        RequestPeriod = RequestPeriod,
        WeightLimit = WeightLimit,
        WeightPeriod = WeightPeriod,
    };
}
