using System.Text.Json.Serialization;

namespace ParallelExec.Agents;

/// <summary>
/// One line of the process-agent protocol, in either direction: a request <c>{"id":1,"body":".."}</c>, a reply
/// <c>{"id":1,"ok":true,"body":".."}</c> or <c>{"id":1,"ok":false,"error":".."}</c>, or the ready line
/// <c>{"type":"ready",...}</c>. Members the host does not know are ignored, so agents may add their own.
/// </summary>
internal sealed class AgentWireMessage
{
    public string? Type { get; set; }

    public long? Id { get; set; }

    public bool? Ok { get; set; }

    public string? Body { get; set; }

    public string? Error { get; set; }
}

/// <summary>Source-generated serialization of the protocol, so the library stays trimming- and AOT-compatible.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentWireMessage))]
internal sealed partial class AgentJsonContext : JsonSerializerContext
{
}
