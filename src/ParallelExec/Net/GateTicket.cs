using System.Threading.RateLimiting;

namespace ParallelExec.Net;

/// <summary>What one admitted attempt holds until it ends: a concurrency slot and, until scheduled back, its window permits.</summary>
internal sealed class GateTicket(GateProvider provider, TimeSpan admittedAt)
{
    public GateProvider Provider { get; } = provider;

    /// <summary>Gets when the attempt was admitted, on the gate's clock.</summary>
    public TimeSpan AdmittedAt { get; } = admittedAt;

    /// <summary>The request-window permit, when it is to be handed back from the call's end rather than its admission.</summary>
    public RateLimitLease? Request { get; set; }

    /// <summary>The weight-window permits, when they are to be handed back from the call's end rather than its admission.</summary>
    public RateLimitLease? Weight { get; set; }
}
