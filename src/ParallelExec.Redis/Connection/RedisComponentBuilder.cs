using Polly;

namespace ParallelExec.Redis;

/// <summary>
/// What the builders of every ParallelExec.Redis component share, besides the methods every builder has: the database
/// and the retry of calls that could not reach the server. Single use.
/// </summary>
/// <typeparam name="TBuilder">The concrete builder, returned by each method for chaining.</typeparam>
/// <typeparam name="TOptions">The component's options.</typeparam>
/// <typeparam name="TComponent">The component built.</typeparam>
public abstract class RedisComponentBuilder<TBuilder, TOptions, TComponent> : ComponentBuilder<TBuilder, TOptions, TComponent>
    where TBuilder : RedisComponentBuilder<TBuilder, TOptions, TComponent>
    where TOptions : RedisComponentOptions
{
    /// <summary>Initializes the builder over options the concrete builder created.</summary>
    /// <param name="options">The options the builder changes and builds from.</param>
    private protected RedisComponentBuilder(TOptions options)
        : base(options)
    {
    }

    /// <summary>Sets the Redis database number (<see cref="RedisComponentOptions.Database"/>).</summary>
    /// <param name="database">The database; -1 for the connection's default.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithDatabase(int database) => Set(o => o.Database = database);

    /// <summary>Sets the built-in retry of connection losses and timeouts (<see cref="RedisComponentOptions.MaxRetries"/>, <see cref="RedisComponentOptions.RetryDelay"/>).</summary>
    /// <param name="maxRetries">Zero or more.</param>
    /// <param name="firstDelay">The first back-off delay; greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithRetry(int maxRetries, TimeSpan firstDelay) => Set(o =>
    {
        o.MaxRetries = maxRetries;
        o.RetryDelay = firstDelay;
    });

    /// <summary>Runs every call to the server through a Polly pipeline instead of the built-in retry (<see cref="RedisComponentOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its component.</exception>
    public TBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => o.ResiliencePipeline = pipeline);
    }
}
