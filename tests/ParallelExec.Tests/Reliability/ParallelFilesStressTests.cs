using System.Buffers.Binary;
using System.Collections.Concurrent;
using CsCheck;
using ParallelExec.Files;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// ParallelFiles atomic writes from concurrent writers to the same and to different real files, with IOExceptions
/// injected midway through writes and cancellations: every file ends holding exactly one complete version that a
/// write reported as succeeded (or that a cancelled call may have finished), never a failed or partial one, and no
/// temporary file is left.
/// </summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class ParallelFilesStressTests(ITestOutputHelper output)
{
    private const int Writers = 8;
    private const int Files = 8;
    private const int HeaderSize = 16;

    /// <summary>One file written by a call.</summary>
    /// <param name="File">Which of the shared files.</param>
    /// <param name="Size">Content length (header included); above 512 the write streams in 64-byte slices.</param>
    /// <param name="FailAfterBytes">An IOException is injected once this many bytes are written (-1: no fault).</param>
    public readonly record struct FileWrite(byte File, int Size, int FailAfterBytes);

    /// <summary>One WriteAllAsync call: 1-3 distinct files and how the caller cancels it.</summary>
    public readonly record struct Call(FileWrite[] Writes, CancelKind Cancel, byte CancelDelayMs);

    private static readonly Gen<FileWrite> WriteGen =
        from file in Gen.Byte[0, Files - 1]
        from size in Gen.Frequency((85, Gen.Int[HeaderSize, 512]), (15, Gen.Int[513, 2048]))
        from fault in Gen.Int[0, 99].Select(i => i < 8)
        from at in Gen.Double[0, 1]
        select new FileWrite(file, size, fault ? (int)(at * (size - 1)) : -1);

    private static readonly Gen<Call> CallGen =
        from writes in WriteGen.Array[1, 3].Select(w => w.DistinctBy(x => x.File).ToArray())
        from cancel in StressGen.Frequency((90, CancelKind.None), (4, CancelKind.Before), (6, CancelKind.AfterDelay))
        from delay in Gen.Byte[0, 2]
        select new Call(writes, cancel, delay);

    /// <summary>One round: the calls, and when the component is disposed under the writers (0: not disposed).</summary>
    public sealed record Schedule(Call[] Calls, double DisposeAt);

    // About 1.96 distinct files per call: 1.65 keeps every run above StressProfile.Operations real writes after the
    // writes refused in the two rounds that dispose mid-flight.
    private static readonly Gen<Schedule> ScheduleGen =
        from calls in CallGen.Array[(int)(StressProfile.Operations / StressProfile.Rounds / 1.65)]
        from dispose in Gen.Int[0, 3].Select(i => i == 0)
        from at in StressGen.DisposePoint
        select new Schedule(calls, dispose ? at : 0);

    private static string Describe(Schedule schedule)
    {
        Call[] calls = schedule.Calls;
        return $"calls={calls.Length} disposeAt={schedule.DisposeAt:P0} writes={calls.Sum(c => c.Writes.Length)} faults={calls.Sum(c => c.Writes.Count(w => w.FailAfterBytes >= 0))} " +
            $"streamed={calls.Sum(c => c.Writes.Count(w => w.Size > 512))} cancel[{StressGen.Histogram(calls.Select(c => c.Cancel))}]";
    }

    [Fact]
    public async Task Every_file_ends_with_one_complete_version_and_no_temporary_file()
    {
        var totals = new StressTotals(output, "ParallelFiles");
        await StressRun.RoundsAsync("ParallelFiles", ScheduleGen, async (schedule, seed) =>
        {
            Ledger ledger = await RunRoundAsync(schedule, seed);
            totals.Cover(schedule.DisposeAt > 0);
            totals.Add(ledger, $"seed={seed} disposeAt={schedule.DisposeAt:P0} {ledger.Summary()}");
        }, Describe, (s, r) => s.DisposeAt > 0 == (r % 4 == 3));

        // The CI size counts real writes: a refused write never touched the disk.
        totals.WriteTotal(StressProfile.Operations, countRefused: false);
        totals.AssertCoveredEvery(2, "round kind (disposed mid-flight or not)");
    }

    private static async Task<Ledger> RunRoundAsync(Schedule schedule, string seed)
    {
        Call[] calls = schedule.Calls;
        int disposeAfter = schedule.DisposeAt > 0 ? (int)(calls.Length * schedule.DisposeAt) : -1;
        int endedCalls = 0;
        string context = $"ParallelFiles seed={seed} (replay with PARALLELEXEC_SEED={seed})";
        // Each (call, file) is one ledger item; its id is also the version number written into the content.
        int[] firstId = new int[calls.Length];
        int items = 0;
        for (int c = 0; c < calls.Length; c++)
        {
            firstId[c] = items;
            items += calls[c].Writes.Length;
        }

        var ledger = new Ledger(items);
        var failAfter = new int[items];
        var fileOf = new int[items];
        for (int c = 0; c < calls.Length; c++)
        {
            for (int w = 0; w < calls[c].Writes.Length; w++)
            {
                failAfter[firstId[c] + w] = calls[c].Writes[w].FailAfterBytes;
                fileOf[firstId[c] + w] = calls[c].Writes[w].File;
            }
        }

        string directory = Path.Combine(Path.GetTempPath(), "parallelexec-stress-files-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string[] paths = Enumerable.Range(0, Files).Select(f => Path.Combine(directory, $"file{f}.bin")).ToArray();
            var files = new ParallelFiles(new ParallelFilesOptions
            {
                MaxDegreeOfParallelism = 4,
                StreamingThreshold = 512,
                BufferSize = 64,
                WriteStreamWrapper = inner => new FaultingStream(inner, ledger, failAfter),
            });
            var succeeded = new ConcurrentDictionary<int, byte>();
            var maybe = new ConcurrentDictionary<int, byte>();

            async Task WriterAsync(int writer)
            {
                for (int c = writer; c < calls.Length; c += Writers)
                {
                    Call call = calls[c];
                    var batch = call.Writes.Select((w, i) => (paths[w.File], (ReadOnlyMemory<byte>)Content(firstId[c] + i, w.Size))).ToArray();
                    var reported = new HashSet<int>();
                    CancellationToken token = ledger.Token(firstId[c], call.Cancel, call.CancelDelayMs);
                    ledger.ShareToken(firstId[c], batch.Length - 1);
                    try
                    {
                        await foreach (FileResult result in files.WriteAllAsync(batch, token))
                        {
                            int slot = Array.FindIndex(batch, b => b.Item1 == result.Path);
                            int id = firstId[c] + slot;
                            reported.Add(id);
                            if (result.Succeeded)
                            {
                                succeeded[id] = 0;
                                ledger.End(id, Outcome.Succeeded);
                            }
                            else
                            {
                                ledger.EndWith(id, result.Exception!);
                            }
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        // The writes the enumeration did not report were cancelled: each either never landed or
                        // landed whole, so its version is allowed (not required) in the final content.
                        for (int i = 0; i < batch.Length; i++)
                        {
                            if (reported.Add(firstId[c] + i))
                            {
                                maybe[firstId[c] + i] = 0;
                                ledger.End(firstId[c] + i, Outcome.Cancelled);
                            }
                        }
                    }
                    catch (ObjectDisposedException) when (disposeAfter >= 0)
                    {
                        // Refused: the ledger checks that none of these writes started, and the final contents that
                        // none landed.
                        for (int i = 0; i < batch.Length; i++)
                        {
                            if (reported.Add(firstId[c] + i))
                            {
                                ledger.End(firstId[c] + i, Outcome.Refused);
                            }
                        }
                    }

                    if (Interlocked.Increment(ref endedCalls) == disposeAfter)
                    {
                        // Disposed mid-flight from a writer: the others are inside their calls, which drain.
                        await files.DisposeAsync().AsTask().WaitAsync(Infrastructure.TestTimeout.Unexpected);
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriterAsync(w)))).WaitAsync(Infrastructure.TestTimeout.Unexpected);
            var problems = new List<string>();
            for (int f = 0; f < Files; f++)
            {
                bool anySucceeded = succeeded.Keys.Any(id => fileOf[id] == f);
                if (!File.Exists(paths[f]))
                {
                    if (anySucceeded)
                    {
                        problems.Add($"file{f} missing although a write to it succeeded");
                    }

                    continue;
                }

                byte[] content = await File.ReadAllBytesAsync(paths[f]);
                if (!TryParse(content, out int version))
                {
                    problems.Add($"file{f} holds a partial or corrupt version ({content.Length} bytes)");
                }
                else if (version >= items || fileOf[version] != f)
                {
                    problems.Add($"file{f} holds version {version}, which was never written to it");
                }
                else if (!succeeded.ContainsKey(version) && !maybe.ContainsKey(version))
                {
                    problems.Add($"file{f} holds version {version}, whose write failed (failAfter={failAfter[version]})");
                }
            }

            string[] leftovers = Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Where(n => !paths.Select(Path.GetFileName).Contains(n)).ToArray()!;
            if (leftovers.Length > 0)
            {
                problems.Add($"{leftovers.Length} temporary files left: {string.Join(", ", leftovers.Take(5))}");
            }

            Assert.True(problems.Count == 0, $"{context}: {string.Join("; ", problems)}");
            ledger.AssertConsistent(context);
            ledger.DisposeSources();
            return ledger;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Content of version <paramref name="version"/>: header (version, length, checksum of the body) then a body derived from the version.</summary>
    private static byte[] Content(int version, int size)
    {
        var content = new byte[size];
        for (int i = HeaderSize; i < size; i++)
        {
            content[i] = (byte)((version * 31) + i);
        }

        BinaryPrimitives.WriteInt64LittleEndian(content, version);
        BinaryPrimitives.WriteInt32LittleEndian(content.AsSpan(8), size);
        BinaryPrimitives.WriteUInt32LittleEndian(content.AsSpan(12), Checksum(content.AsSpan(HeaderSize)));
        return content;
    }

    private static bool TryParse(byte[] content, out int version)
    {
        version = -1;
        if (content.Length < HeaderSize)
        {
            return false;
        }

        long v = BinaryPrimitives.ReadInt64LittleEndian(content);
        int size = BinaryPrimitives.ReadInt32LittleEndian(content.AsSpan(8));
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(content.AsSpan(12));
        if (size != content.Length || checksum != Checksum(content.AsSpan(HeaderSize)) || v is < 0 or > int.MaxValue)
        {
            return false;
        }

        version = (int)v;
        return true;
    }

    private static uint Checksum(ReadOnlySpan<byte> body)
    {
        uint hash = 2166136261;
        foreach (byte b in body)
        {
            hash = (hash ^ b) * 16777619;
        }

        return hash;
    }

    /// <summary>
    /// Wraps the stream of one write: reads the version from the header (the first write always carries the whole
    /// header: small contents go out in one write, streamed ones in 64-byte slices), then throws an IOException once the
    /// version's scheduled number of bytes has been written.
    /// </summary>
    private sealed class FaultingStream(Stream inner, Ledger ledger, int[] failAfter) : WriteOnlyWrapperStream(inner)
    {
        private int _version = -1;
        private long _written;
        private long _expected;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_version < 0)
            {
                Assert.True(buffer.Length >= HeaderSize, "the first write of a version must carry its whole header");
                _version = (int)BinaryPrimitives.ReadInt64LittleEndian(buffer);
                _expected = BinaryPrimitives.ReadInt32LittleEndian(buffer[8..]);
                ledger.Started(_version);
            }

            int limit = failAfter[_version];
            if (limit >= 0 && _written + buffer.Length > limit)
            {
                Inner.Write(buffer[..(int)(limit - _written)]);
                _written = limit;
                Exception fault = ledger.Fault(_version);
                throw new IOException($"{InjectedFaultException.Marker} disk failure injected after {limit} bytes", fault);
            }

            Inner.Write(buffer);
            _written += buffer.Length;
            if (_written == _expected)
            {
                ledger.Completed(_version);
            }
        }
    }
}
