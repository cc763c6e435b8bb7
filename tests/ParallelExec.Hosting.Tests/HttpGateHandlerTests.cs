using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Hosting.Tests;

public sealed class HttpGateHandlerTests
{
    [Fact]
    public async Task A_factory_client_goes_through_the_gate_and_a_429_pauses_the_provider_for_Retry_After()
    {
        var server = new ScriptedHandler();
        using var host = TestHosts.Build(
            pe => pe.AddHttpGate("llm"),
            services: s => s.AddHttpClient("chat", c => c.BaseAddress = new Uri("http://chat.invalid/"))
                .AddParallelExecGate("openai", gateName: "llm")
                .ConfigurePrimaryHttpMessageHandler(() => server));
        await host.StartAsync().WithTimeout();
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("chat");
        var gate = host.Services.GetRequiredKeyedService<HttpGate>("llm");

        using (var ok = await client.GetAsync("ok").WithTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        server.Throttle = true;
        using (var throttled = await client.GetAsync("busy").WithTimeout())
        {
            // The caller still sees the 429 (its own resilience handler may retry it); the gate paused the provider.
            Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        }

        var provider = gate.GetStatistics().Providers["openai"];
        Assert.Equal(2, provider.Admitted);
        Assert.InRange(provider.RemainingPause, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(120));
        Assert.Equal(2, gate.GetStatistics().Ledger.Succeeded);
        await host.StopAsync().WithTimeout();
    }

    private sealed class ScriptedHandler : HttpMessageHandler
    {
        public bool Throttle { get; set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(Throttle ? HttpStatusCode.TooManyRequests : HttpStatusCode.OK);
            if (Throttle)
            {
                response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(120));
            }

            return Task.FromResult(response);
        }
    }
}
