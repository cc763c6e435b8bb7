namespace ParallelExec.Tests.Infrastructure;

/// <summary>
/// A write-only stream around the stream an adapter writes to, for fault injection: subclasses decide what each write
/// does (pass it through, fail it midway); everything else passes through or is not supported.
/// </summary>
public abstract class WriteOnlyWrapperStream(Stream inner) : Stream
{
    /// <summary>Gets the wrapped stream.</summary>
    protected Stream Inner { get; } = inner;

    /// <inheritdoc/>
    public override bool CanRead => false;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => true;

    /// <inheritdoc/>
    public override long Length => Inner.Length;

    /// <inheritdoc/>
    public override long Position { get => Inner.Position; set => throw new NotSupportedException(); }

    /// <inheritdoc/>
    public override void Flush() => Inner.Flush();

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => Inner.SetLength(value);

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public abstract override void Write(ReadOnlySpan<byte> buffer);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
