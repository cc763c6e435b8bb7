using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ParallelExec.Memory;

/// <summary>
/// Typed values over any <see cref="IMemoryStore"/>, as UTF-8 JSON through System.Text.Json.
/// </summary>
/// <remarks>
/// The overloads that take a <see cref="JsonTypeInfo{T}"/> (from a source-generated <c>JsonSerializerContext</c>) are
/// trimming- and AOT-safe; those that take <see cref="JsonSerializerOptions"/> use reflection and are marked so. Values
/// are serialized into pooled buffers: the store copies the bytes, so the buffer goes back to the pool as soon as the
/// write has been accepted.
/// </remarks>
public static class MemoryStoreJsonExtensions
{
    private const string ReflectionMessage = "JSON serialization of arbitrary types may need code that trimming removes; use the overload that takes a JsonTypeInfo<T>.";
    private const string DynamicCodeMessage = "JSON serialization of arbitrary types may need runtime code generation; use the overload that takes a JsonTypeInfo<T>.";

    /// <summary>Reads and deserializes the value under <paramref name="key"/>.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="store">The store.</param>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The value, or <see langword="default"/> when the key is absent or expired.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="JsonException">The stored bytes are not valid JSON for <typeparamref name="T"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    public static async ValueTask<T?> GetJsonAsync<T>(this IMemoryStore store, string namespaceName, string key, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        var value = await store.GetAsync(namespaceName, key, cancellationToken).ConfigureAwait(false);
        return value is { } bytes ? JsonSerializer.Deserialize(bytes.Span, jsonTypeInfo) : default;
    }

    /// <summary>Serializes <paramref name="value"/> and stores it under <paramref name="key"/>.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="store">The store.</param>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="value">The value.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="timeToLive">How long the entry lives; <see langword="null"/> for ever.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once the store has accepted the write.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeToLive"/> is zero or negative.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    public static async ValueTask SetJsonAsync<T>(this IMemoryStore store, string namespaceName, string key, T value, JsonTypeInfo<T> jsonTypeInfo, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        using var buffer = new PooledBufferWriter();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, value, jsonTypeInfo);
        }

        await store.SetAsync(namespaceName, key, buffer.WrittenMemory, timeToLive, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads and deserializes the value under <paramref name="key"/>, using reflection-based serialization.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="store">The store.</param>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="options">The serializer options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The value, or <see langword="default"/> when the key is absent or expired.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/>, <paramref name="namespaceName"/> or <paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="JsonException">The stored bytes are not valid JSON for <typeparamref name="T"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    [RequiresUnreferencedCode(ReflectionMessage)]
    [RequiresDynamicCode(DynamicCodeMessage)]
    public static async ValueTask<T?> GetJsonAsync<T>(this IMemoryStore store, string namespaceName, string key, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var value = await store.GetAsync(namespaceName, key, cancellationToken).ConfigureAwait(false);
        return value is { } bytes ? JsonSerializer.Deserialize<T>(bytes.Span, options) : default;
    }

    /// <summary>Serializes <paramref name="value"/> with reflection-based serialization and stores it under <paramref name="key"/>.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="store">The store.</param>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="value">The value.</param>
    /// <param name="options">The serializer options; <see langword="null"/> for the defaults.</param>
    /// <param name="timeToLive">How long the entry lives; <see langword="null"/> for ever.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once the store has accepted the write.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/>, <paramref name="namespaceName"/> or <paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeToLive"/> is zero or negative.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    [RequiresUnreferencedCode(ReflectionMessage)]
    [RequiresDynamicCode(DynamicCodeMessage)]
    public static async ValueTask SetJsonAsync<T>(this IMemoryStore store, string namespaceName, string key, T value, JsonSerializerOptions? options = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var buffer = new PooledBufferWriter();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(writer, value, options);
        }

        await store.SetAsync(namespaceName, key, buffer.WrittenMemory, timeToLive, cancellationToken).ConfigureAwait(false);
    }
}
