using System.Text;

namespace ParallelExec.Sqlite.Tests;

/// <summary>The stored values of the tests: UTF-8 text, so that an assertion shows what was written.</summary>
internal static class Utf8Values
{
    public static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);

    public static string? Text(ReadOnlyMemory<byte>? value) => value is { } bytes ? Encoding.UTF8.GetString(bytes.Span) : null;
}
