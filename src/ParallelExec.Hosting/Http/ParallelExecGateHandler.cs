using System.Net;
using ParallelExec.Net;

namespace ParallelExec.Hosting.Http;

/// <summary>
/// The HTTP gate as a step of an <c>IHttpClientFactory</c> pipeline: each request waits for the gate's admission for
/// its provider, then goes on down the pipeline. A 429, or a 503 with <c>Retry-After</c>, pauses the provider for the
/// time the server asked (the gate's <c>DefaultThrottlePause</c> when it gave none) and is returned to the caller as
/// is, so typed clients and resilience handlers see the response they expect.
/// </summary>
internal sealed class ParallelExecGateHandler(HttpGate gate, string provider, TimeSpan defaultPause) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        gate.RunAsync(
            provider,
            async token =>
            {
                var response = await base.SendAsync(request, token).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.TooManyRequests
                    || (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null))
                {
                    gate.Pause(provider, RetryAfter(response) ?? defaultPause);
                }

                return response;
            },
            cancellationToken: cancellationToken);

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } when date > DateTimeOffset.UtcNow => date - DateTimeOffset.UtcNow,
        _ => null,
    };
}
