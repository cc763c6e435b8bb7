namespace ParallelExec.Net;

/// <summary>
/// One call through an <see cref="HttpGate"/>, from its submission to its end: the unit the gate's ledger counts. A call
/// makes one attempt, or several when the resilience pipeline retries it; each attempt that finds no free permit waits
/// as a <see cref="GateWaiter"/>.
/// </summary>
/// <remarks>
/// <see cref="DroppedBy"/> is written under the gate's lock before the waiting attempt's task is completed, so the call
/// reads it after that task without the lock. <see cref="FirstAdmittedAt"/> is written and read by the call's own flow only.
/// </remarks>
internal abstract class GateCall(HttpGate gate, GateProvider provider, object item, int weight, int priority, TimeSpan submittedAt)
{
    /// <summary>Gets the gate, so that a waiter's cancellation callback finds its lock.</summary>
    public HttpGate Gate { get; } = gate;

    /// <summary>Gets the provider whose limits the call counts against.</summary>
    public GateProvider Provider { get; } = provider;

    /// <summary>Gets the call as the user handed it over (the delegate or the request factory), for drop reports.</summary>
    public object Item { get; } = item;

    /// <summary>Gets the call's weight against the provider's weight window.</summary>
    public int Weight { get; } = weight;

    /// <summary>Gets the call's priority among waiting calls (higher first).</summary>
    public int Priority { get; } = priority;

    /// <summary>Gets when the call was submitted, on the gate's clock.</summary>
    public TimeSpan SubmittedAt { get; } = submittedAt;

    /// <summary>Gets or sets when the call's first attempt was admitted, or <see langword="null"/> before.</summary>
    public TimeSpan? FirstAdmittedAt { get; set; }

    /// <summary>
    /// Gets or sets why the gate ended the call's last waiting attempt (refused, evicted or cut by the drain timeout), or
    /// <see langword="null"/> when the gate did not.
    /// </summary>
    public DropReason? DroppedBy { get; set; }
}
