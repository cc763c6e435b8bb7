using Microsoft.Extensions.DependencyInjection;

namespace ParallelExec.Hosting;

/// <summary>The builder <c>AddParallelExec()</c> returns.</summary>
internal sealed class ParallelExecBuilder(IServiceCollection services) : IParallelExecBuilder
{
    public IServiceCollection Services { get; } = services;
}
