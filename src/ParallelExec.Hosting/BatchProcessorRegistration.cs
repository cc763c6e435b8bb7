using Microsoft.Extensions.DependencyInjection;
using ParallelExec.Batching;
using ParallelExec.Hosting.Registration;

namespace ParallelExec.Hosting;

/// <summary>Registers <see cref="BatchProcessor{TItem, TResult}"/>s with the host.</summary>
public static class BatchProcessorRegistration
{
    /// <summary>
    /// Registers a batch processor whose handler comes from the application's services, unkeyed or keyed by
    /// <paramref name="name"/>, bound from <c>ParallelExec:BatchProcessor:&lt;name&gt;</c> (<c>MaxBatchSize</c>,
    /// <c>MaxDelay</c>, <c>QueueCapacity</c>, ...).
    /// </summary>
    /// <typeparam name="TItem">The type of the submitted items.</typeparam>
    /// <typeparam name="TResult">The type of each item's result.</typeparam>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The processor's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="handler">Returns the bulk handler (results by position), called once when the processor is built.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="handler"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a processor of these types and name is already registered.</exception>
    /// <example>
    /// <code>
    /// services.AddParallelExec().AddBatchProcessor&lt;Document, bool&gt;("store",
    ///     sp => sp.GetRequiredService&lt;DocumentWriter&gt;().WriteAsync,
    ///     (_, batch) => batch.WithMaxBatchSize(100));
    /// </code>
    /// </example>
    public static IParallelExecBuilder AddBatchProcessor<TItem, TResult>(
        this IParallelExecBuilder builder,
        string? name,
        Func<IServiceProvider, Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>> handler,
        Action<IServiceProvider, BatchProcessorBuilder<TItem, TResult>>? configure = null)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(handler);
        RegistrationHelper.Add<BatchProcessor<TItem, TResult>>(builder, "BatchProcessor", name, (services, registration) =>
            ComponentFactory.Build<BatchProcessorBuilder<TItem, TResult>, BatchProcessorOptions<TItem>, BatchProcessor<TItem, TResult>>(
                services, registration, Exec.Batch(handler(services)), configure, BatchSlots<TItem>.Slots));
        return builder;
    }

    private static class BatchSlots<TItem>
    {
        public static readonly CallbackSlots<BatchProcessorOptions<TItem>> Slots = new()
        {
            Dropped = (o => o.OnDropped, (o, c) => o.OnDropped = c),
            Failed = (o => o.OnError, (o, c) => o.OnError = c),
            QueueCapacity = o => o.QueueCapacity,
        };
    }
}
