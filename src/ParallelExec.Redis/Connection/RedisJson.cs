using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ParallelExec.Redis;

/// <summary>The JSON contract of a payload type, from the component's serializer options (a source-generated context's options keep it trimming-safe).</summary>
internal static class RedisJson
{
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Reflection only when the application set no serializer options; in a trimmed or native AOT application reflection-based JSON is off by default and GetTypeInfo throws, telling the application to set SerializerOptions from a JsonSerializerContext.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "As above.")]
    public static JsonTypeInfo<T> TypeInfo<T>(JsonSerializerOptions? options)
    {
        var resolved = options ?? JsonSerializerOptions.Default;
        return (JsonTypeInfo<T>)resolved.GetTypeInfo(typeof(T));
    }
}
