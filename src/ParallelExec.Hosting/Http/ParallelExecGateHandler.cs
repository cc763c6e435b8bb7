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
                // The gate's own rule and clock (its TimeProvider) decide what a throttling answer is and how long it asks for.
                if (gate.IsThrottle(response, out var retryAfter))
                {
                    gate.Pause(provider, retryAfter > TimeSpan.Zero ? retryAfter.Value : defaultPause);
                }

                return response;
            },
            cancellationToken: cancellationToken);
}
