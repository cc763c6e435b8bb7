using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// How the memory store maps namespaces, keys and lifetimes onto Redis: the key name, the glob of a prefix listing and
/// the value layout (an 8-byte expiry header before the caller's bytes).
/// </summary>
/// <remarks>
/// The namespace's length is written before it (<c>&lt;prefix&gt;5:agent:goal</c>), so a namespace containing the
/// separator can never produce another namespace's key. The expiry header holds the Unix time in milliseconds, read
/// from the store's <see cref="TimeProvider"/>, after which the entry is dead (0: never): Redis's own expiry (<c>PX</c>)
/// reclaims the memory by the server's clock, and the header makes the store honour an injected clock exactly.
/// </remarks>
internal sealed class RedisKeyLayout(string keyPrefix)
{
    public const int HeaderSize = 8;

    public string NamespacePrefix(string namespaceName) =>
        string.Concat(keyPrefix, namespaceName.Length.ToString(CultureInfo.InvariantCulture), ":", namespaceName, ":");

    public RedisKey Key(string namespacePrefix, string key) => namespacePrefix + key;

    /// <summary>The SCAN MATCH glob of every key of a namespace that starts with <paramref name="prefix"/>.</summary>
    public static string Glob(string namespacePrefix, string prefix)
    {
        var builder = new StringBuilder(namespacePrefix.Length + prefix.Length + 8);
        AppendEscaped(builder, namespacePrefix);
        AppendEscaped(builder, prefix);
        return builder.Append('*').ToString();
    }

    public static byte[] Encode(ReadOnlyMemory<byte> value, long expiresAt)
    {
        var bytes = new byte[HeaderSize + value.Length];
        BinaryPrimitives.WriteInt64BigEndian(bytes, expiresAt);
        value.Span.CopyTo(bytes.AsSpan(HeaderSize));
        return bytes;
    }

    /// <summary>Reads a stored value: its bytes when live at <paramref name="now"/>; <see langword="null"/> with <paramref name="expired"/> set when dead.</summary>
    public static ReadOnlyMemory<byte>? Decode(RedisValue stored, long now, out bool expired)
    {
        expired = false;
        if (stored.IsNull)
        {
            return null;
        }

        var bytes = (byte[])stored!;
        if (bytes.Length < HeaderSize)
        {
            // Not written by this store: the caller sees the raw bytes it finds.
            return bytes;
        }

        if (!IsLive(bytes, now))
        {
            expired = true;
            return null;
        }

        return bytes.AsMemory(HeaderSize);
    }

    /// <summary>Whether a value (or its first <see cref="HeaderSize"/> bytes) is live at <paramref name="now"/>.</summary>
    public static bool IsLive(ReadOnlySpan<byte> header, long now)
    {
        if (header.Length < HeaderSize)
        {
            // Not written by this store: treat as live, the caller sees the raw bytes it finds.
            return header.Length > 0;
        }

        var expiresAt = BinaryPrimitives.ReadInt64BigEndian(header);
        return expiresAt == 0 || expiresAt > now;
    }

    private static void AppendEscaped(StringBuilder builder, string text)
    {
        foreach (var c in text)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }
    }
}
