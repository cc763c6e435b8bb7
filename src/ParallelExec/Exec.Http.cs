using ParallelExec.Net;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>
    /// Starts building an admission gate for outgoing calls: a concurrency bound, request and weight limits per
    /// provider, priorities, a bounded wait queue, <c>Retry-After</c> feedback and a shared pooled
    /// <see cref="HttpClient"/>.
    /// </summary>
    /// <returns>A single-use builder.</returns>
    public static HttpGateBuilder Http() => new();
}
