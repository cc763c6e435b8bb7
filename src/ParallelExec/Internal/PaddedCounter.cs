using System.Runtime.InteropServices;

namespace ParallelExec.Internal;

/// <summary>
/// A counter alone on its cache line. Use it for a counter that one side of a hand-off writes on every item while the
/// other side writes its neighbours (publishers count received, handlers count handled): on a shared line, every
/// increment by one core invalidates the other core's copy, and each side pays a cache miss per item.
/// </summary>
/// <remarks>128 bytes with the value in the middle: padding on both sides, and two lines because adjacent-line
/// prefetching pairs 64-byte lines on current x64 cores.</remarks>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedCounter
{
    /// <summary>The count; update it with <see cref="Interlocked"/> and read it with <see cref="Volatile"/>.</summary>
    [FieldOffset(64)]
    public long Value;
}
