using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ParallelExec.Hosting.Health;
using ParallelExec.Hosting.Registration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a health check per registered ParallelExec component.</summary>
public static class ParallelExecHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds one health check per component registered with <c>AddParallelExec()</c> (whenever it was registered), named
    /// <c>parallelexec:&lt;Kind&gt;:&lt;name&gt;</c>: unhealthy when closed or when an agent pool cannot spawn; degraded
    /// when a queue is filled to <paramref name="saturation"/> of its capacity, callers wait for room, or a gate's
    /// provider is paused. Each result's data holds the ledger figures.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="saturation">The queue fill ratio, above zero and at most one, from which a component is degraded.</param>
    /// <param name="tags">Tags for every check, to filter them on an endpoint.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="saturation"/> is not above zero and at most one.</exception>
    public static IHealthChecksBuilder AddParallelExec(this IHealthChecksBuilder builder, double saturation = 0.9, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!(saturation > 0 && saturation <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(saturation), saturation, "The saturation ratio must be above zero and at most one.");
        }

        var tagList = tags?.ToArray() ?? [];
        builder.Services.AddSingleton<IConfigureOptions<HealthCheckServiceOptions>>(services => new ConfigureOptions<HealthCheckServiceOptions>(options =>
        {
            var runtime = services.GetRequiredService<ComponentRuntime>();
            foreach (var registration in runtime.Registrations)
            {
                options.Registrations.Add(new HealthCheckRegistration(
                    $"parallelexec:{registration.Kind}:{registration.Name ?? ComponentRegistration.DefaultSectionName}",
                    _ => new ComponentHealthCheck(runtime, registration, saturation),
                    failureStatus: null,
                    tags: tagList));
            }
        }));
        return builder;
    }
}
