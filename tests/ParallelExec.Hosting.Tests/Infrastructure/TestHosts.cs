using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ParallelExec.Hosting;

namespace ParallelExec.Hosting.Tests.Infrastructure;

/// <summary>Builds real generic hosts (Host.CreateApplicationBuilder) for the tests, with fake logging collected.</summary>
internal static class TestHosts
{
    public static IHost Build(
        Action<IParallelExecBuilder> register,
        IDictionary<string, string?>? configuration = null,
        TimeSpan? shutdownTimeout = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?>());
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddFakeLogging();
        builder.Services.AddMetrics();
        if (shutdownTimeout is { } timeout)
        {
            builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = timeout);
        }

        services?.Invoke(builder.Services);
        register(builder.Services.AddParallelExec());
        return builder.Build();
    }

    public static FakeLogCollector Logs(this IHost host) => host.Services.GetFakeLogCollector();
}
