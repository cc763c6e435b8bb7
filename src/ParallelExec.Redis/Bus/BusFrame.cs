using System.Buffers.Binary;
using System.Text;

namespace ParallelExec.Redis;

/// <summary>
/// One bridged message on the wire (a Pub/Sub payload, or the <c>data</c> field of a stream entry): the publishing
/// bridge, the trace context, the request correlation and reply channel, an error, and the JSON payload last.
/// </summary>
internal sealed class BusFrame
{
    private const byte Version = 1;

    public Guid Origin { get; init; }

    public string? TraceParent { get; init; }

    public string? TraceState { get; init; }

    public long Correlation { get; init; }

    public string? ReplyTo { get; init; }

    /// <summary>The requester's timeout in milliseconds (requests only).</summary>
    public long TimeoutMilliseconds { get; init; }

    /// <summary>For a failed request: the exception type and message.</summary>
    public string? Error { get; init; }

    public ReadOnlyMemory<byte> Payload { get; init; }

    public byte[] Write()
    {
        var strings = new[] { TraceParent, TraceState, ReplyTo, Error };
        var size = 1 + 16 + 8 + 8 + strings.Sum(s => 4 + (s is null ? 0 : Encoding.UTF8.GetByteCount(s))) + Payload.Length;
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        span[0] = Version;
        Origin.TryWriteBytes(span[1..]);
        BinaryPrimitives.WriteInt64BigEndian(span[17..], Correlation);
        BinaryPrimitives.WriteInt64BigEndian(span[25..], TimeoutMilliseconds);
        var offset = 33;
        foreach (var text in strings)
        {
            if (text is null)
            {
                BinaryPrimitives.WriteInt32BigEndian(span[offset..], -1);
                offset += 4;
                continue;
            }

            var length = Encoding.UTF8.GetBytes(text, span[(offset + 4)..]);
            BinaryPrimitives.WriteInt32BigEndian(span[offset..], length);
            offset += 4 + length;
        }

        Payload.Span.CopyTo(span[offset..]);
        return bytes;
    }

    public static BusFrame Read(byte[] bytes)
    {
        if (bytes.Length < 33 || bytes[0] != Version)
        {
            throw new FormatException($"Not a ParallelExec bus frame (length {bytes.Length}, version {(bytes.Length > 0 ? bytes[0] : -1)}).");
        }

        var span = bytes.AsSpan();
        var offset = 33;
        var strings = new string?[4];
        for (var i = 0; i < strings.Length; i++)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(span[offset..]);
            offset += 4;
            if (length >= 0)
            {
                strings[i] = Encoding.UTF8.GetString(span.Slice(offset, length));
                offset += length;
            }
        }

        return new BusFrame
        {
            Origin = new Guid(span.Slice(1, 16)),
            Correlation = BinaryPrimitives.ReadInt64BigEndian(span[17..]),
            TimeoutMilliseconds = BinaryPrimitives.ReadInt64BigEndian(span[25..]),
            TraceParent = strings[0],
            TraceState = strings[1],
            ReplyTo = strings[2],
            Error = strings[3],
            Payload = bytes.AsMemory(offset),
        };
    }
}
