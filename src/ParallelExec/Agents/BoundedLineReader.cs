using System.Buffers;
using System.Text;

namespace ParallelExec.Agents;

/// <summary>
/// Splits a process's output stream into lines without ever holding more than a bounded number of bytes: a
/// <see cref="StreamReader"/> would buffer an endless line whole, so a runaway or hostile process could exhaust the
/// host's memory through it.
/// </summary>
/// <param name="stream">The stream to read to its end.</param>
/// <param name="maxLineLength">The most bytes one line may hold, its newline not counted.</param>
internal sealed class BoundedLineReader(Stream stream, int maxLineLength)
{
    // A line buffer that grew past this is dropped after its line, so one long line does not pin memory for good.
    private const int KeptCapacity = 64 * 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly byte[] _chunk = new byte[8192];
    private ArrayBufferWriter<byte> _line = new(256);
    private bool _skipping;

    /// <summary>Reads to the end of the stream (a last line without a newline included).</summary>
    /// <param name="onLine">Called with each line, without its newline (and without a carriage return before it).</param>
    /// <param name="onOverflow">
    /// Called once for each line longer than the limit; returns whether to go on (skipping the rest of that line) or to
    /// stop reading.
    /// </param>
    /// <param name="cancellationToken">Stops the reading.</param>
    /// <returns>A task that ends at the end of the stream or when <paramref name="onOverflow"/> stopped the reading.</returns>
    public async Task ReadToEndAsync(Action<string> onLine, Func<bool> onOverflow, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await stream.ReadAsync(_chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_line.WrittenCount > 0 && !_skipping)
                {
                    onLine(Decode(_line.WrittenSpan));
                }

                return;
            }

            if (!Split(read, onLine, onOverflow))
            {
                return;
            }
        }
    }

    private static string Decode(ReadOnlySpan<byte> line) =>
        Utf8.GetString(line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line);

    private bool Split(int count, Action<string> onLine, Func<bool> onOverflow)
    {
        var rest = _chunk.AsSpan(0, count);
        while (!rest.IsEmpty)
        {
            var newline = rest.IndexOf((byte)'\n');
            var part = newline < 0 ? rest : rest[..newline];
            if (_skipping)
            {
                _skipping = newline < 0;
            }
            else if (_line.WrittenCount + part.Length > maxLineLength)
            {
                if (!onOverflow())
                {
                    return false;
                }

                _skipping = newline < 0;
                ResetLine();
            }
            else if (newline < 0)
            {
                _line.Write(part);
            }
            else if (_line.WrittenCount == 0)
            {
                onLine(Decode(part));
            }
            else
            {
                _line.Write(part);
                onLine(Decode(_line.WrittenSpan));
                ResetLine();
            }

            if (newline < 0)
            {
                break;
            }

            rest = rest[(newline + 1)..];
        }

        return true;
    }

    private void ResetLine()
    {
        if (_line.Capacity > KeptCapacity)
        {
            _line = new ArrayBufferWriter<byte>(256);
        }
        else
        {
            _line.ResetWrittenCount();
        }
    }
}
