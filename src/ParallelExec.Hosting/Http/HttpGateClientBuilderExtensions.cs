using ParallelExec;
using ParallelExec.Hosting.Http;
using ParallelExec.Hosting.Registration;
using ParallelExec.Net;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts a registered <see cref="HttpGate"/> in front of an <c>IHttpClientFactory</c> client.</summary>
public static class HttpGateClientBuilderExtensions
{
    /// <summary>
    /// Sends every request of this client through a gate registered with <c>AddHttpGate</c>, counted against
    /// <paramref name="provider"/>'s limits: the client keeps its own handlers, typed client and base address, and
    /// waits for the gate's admission. A 429 or 503 with <c>Retry-After</c> pauses the provider for every caller.
    /// </summary>
    /// <param name="builder">The client's builder (<c>services.AddHttpClient("llm")</c>).</param>
    /// <param name="provider">The provider whose limits the calls count against.</param>
    /// <param name="gateName">The gate's registration name, or <see langword="null"/> for the unnamed default gate.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="provider"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="provider"/> is empty or white space.</exception>
    /// <example>
    /// <code>
    /// services.AddParallelExec().AddHttpGate("llm", gate => gate.AddProvider("openai", new ProviderLimits { RequestLimit = 60 }));
    /// services.AddHttpClient&lt;ChatClient&gt;().AddParallelExecGate("openai", gateName: "llm");
    /// </code>
    /// </example>
    public static IHttpClientBuilder AddParallelExecGate(this IHttpClientBuilder builder, string provider, string? gateName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        return builder.AddHttpMessageHandler(services =>
        {
            var gate = gateName is null ? services.GetRequiredService<HttpGate>() : services.GetRequiredKeyedService<HttpGate>(gateName);
            var options = (HttpGateOptions)FindOptions(services, gate);
            return new ParallelExecGateHandler(gate, provider, options.DefaultThrottlePause);
        });
    }

    private static ComponentOptions FindOptions(IServiceProvider services, HttpGate gate)
    {
        foreach (var component in services.GetRequiredService<ComponentRuntime>().Built())
        {
            if (ReferenceEquals(component.Instance, gate))
            {
                return component.Options;
            }
        }

        throw new InvalidOperationException($"The HttpGate '{gate.Name}' was not registered through AddParallelExec().AddHttpGate().");
    }
}
