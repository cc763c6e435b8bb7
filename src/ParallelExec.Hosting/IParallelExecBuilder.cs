using Microsoft.Extensions.DependencyInjection;

namespace ParallelExec.Hosting;

/// <summary>
/// What <c>services.AddParallelExec()</c> returns: the service collection the component registrations
/// (<c>AddWorkerPool</c>, <c>AddBatchProcessor</c>, ...) add to, for chaining.
/// </summary>
public interface IParallelExecBuilder
{
    /// <summary>Gets the application's service collection.</summary>
    IServiceCollection Services { get; }
}
