using Microsoft.Extensions.DependencyInjection;
using ParallelExec.Hosting.Registration;
using ParallelExec.Memory;

namespace ParallelExec.Hosting;

/// <summary>
/// What <c>AddMemoryStore</c> and <c>AddSqliteMemoryStore</c> return: chain <see cref="WithBatching"/> to put a
/// <see cref="BatchingMemoryStore"/> in front of the store, or go on registering components.
/// </summary>
public sealed class MemoryStoreRegistrationBuilder : IParallelExecBuilder
{
    private readonly ComponentRegistration _store;
    private ComponentRegistration? _batching;

    internal MemoryStoreRegistrationBuilder(IServiceCollection services, ComponentRegistration store)
    {
        Services = services;
        _store = store;
        RegistrationHelper.AddService<IMemoryStore>(services, store, store.Name);
    }

    /// <inheritdoc/>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Puts a batching store in front of the registered store: <c>IMemoryStore</c> (under the same key) resolves to the
    /// <see cref="BatchingMemoryStore"/>, which turns concurrent single calls into bulk calls; the store itself stays
    /// resolvable under its own type. Bound from <c>ParallelExec:BatchingMemoryStore:&lt;name&gt;</c>, and stopped before
    /// the store it writes to.
    /// </summary>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The builder, to go on registering components.</returns>
    /// <exception cref="InvalidOperationException">Batching was already added to this store.</exception>
    public IParallelExecBuilder WithBatching(Action<BatchingMemoryStoreBuilder>? configure = null)
    {
        if (_batching is not null)
        {
            throw new InvalidOperationException($"{_store} already has a batching store in front of it.");
        }

        var store = _store;
        _batching = RegistrationHelper.Add<BatchingMemoryStore>(this, "BatchingMemoryStore", store.Name, (services, registration) =>
        {
            var inner = (IMemoryStore)services.GetRequiredService<ComponentRuntime>().Get(store).Instance;
            return ComponentFactory.Build<BatchingMemoryStoreBuilder, BatchingMemoryStoreOptions, BatchingMemoryStore>(
                services,
                registration,
                Exec.BatchingMemoryStore(inner),
                (_, builder) =>
                {
                    // The store and its batching front would otherwise share a name, and so the parallelexec.name tag.
                    if (store.Name is not null)
                    {
                        builder.WithName(store.Name + "-batching");
                    }

                    configure?.Invoke(builder);
                },
                Slots);
        });

        // IMemoryStore under this key now means the batching front: the last registration of a service wins.
        RegistrationHelper.AddService<IMemoryStore>(Services, _batching, store.Name);
        return this;
    }

    private static readonly CallbackSlots<BatchingMemoryStoreOptions> Slots = new()
    {
        Dropped = (o => o.OnDropped, (o, c) => o.OnDropped = c),
        QueueCapacity = o => o.QueueCapacity,
    };
}
