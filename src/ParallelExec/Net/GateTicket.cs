using System.Threading.RateLimiting;

namespace ParallelExec.Net;

/// <summary>The permits one admitted call holds until it ends.</summary>
internal sealed class GateTicket(GateProvider provider, RateLimitLease concurrency)
{
    public GateProvider Provider { get; } = provider;

    /// <summary>The gate-wide concurrency permit.</summary>
    public RateLimitLease Concurrency { get; } = concurrency;

    /// <summary>The request-window permit, when it is to be handed back from the call's end rather than its admission.</summary>
    public RateLimitLease? Request { get; set; }

    /// <summary>The weight-window permits, when they are to be handed back from the call's end rather than its admission.</summary>
    public RateLimitLease? Weight { get; set; }
}
