namespace AgentSwarm;

/// <summary>Prints the analysis table with the figures of the two runs.</summary>
internal static class ResultTable
{
    public static void Print(SwarmOptions options, WorkflowRun sequential, WorkflowRun parallel)
    {
        string[] header = ["Pattern", "Current (sequential)", "ParallelExec", "Speed-up", "Analysis target"];
        var rows = new List<string[]>
        {
            Row("Agent spawning", Total(sequential.Spawning.Busy), Total(parallel.Spawning.Busy),
                sequential.Spawning.Busy, parallel.Spawning.Busy, "3 s -> 1 s (3x)"),
            PerOperation("File operations", "file", sequential.Files, parallel.Files, "250 -> 50 ms/file (5x)"),
            PerOperation("Memory access", "op", sequential.Memory, parallel.Memory, "100 -> 20 ms/op (5x)"),
            PerOperation("Coordination", "step", sequential.Coordination, parallel.Coordination, "500 -> 100 ms/step (5x)"),
            Row("Overall", Total(sequential.Elapsed), Total(parallel.Elapsed), sequential.Elapsed, parallel.Elapsed, "2-4x"),
        };

        var widths = Enumerable.Range(0, header.Length)
            .Select(c => rows.Select(r => r[c].Length).Append(header[c].Length).Max())
            .ToArray();
        WriteRow(header, widths);
        Console.WriteLine("| " + string.Join(" | ", widths.Select(static w => new string('-', w))) + " |");
        foreach (var row in rows)
        {
            WriteRow(row, widths);
        }

        Console.WriteLine();
        Console.WriteLine(
            $"Memory calls that reached the store: {sequential.MemoryCalls} sequential, {parallel.MemoryCalls} with " +
            $"ParallelExec ({sequential.Memory.Operations} note writes and reads each way, coalesced by BatchingMemoryStore).");
        Console.WriteLine(
            "Each figure is the wall-clock time during which that kind of work was in flight (overlapping operations count " +
            "once), divided by the number of operations where the row is per operation.");
        if (options.AgentStartup == TimeSpan.Zero && options.FileLatency == TimeSpan.Zero &&
            options.MemoryLatency == TimeSpan.Zero && options.StepLatency == TimeSpan.Zero)
        {
            Console.WriteLine(
                "No simulated latency: what remains is CPU work (process start-up, SQLite, JSON), which overlaps only " +
                $"as far as this machine's {Environment.ProcessorCount} cores allow.");
        }
    }

    private static string[] PerOperation(string pattern, string unit, PatternClock current, PatternClock ours, string target)
    {
        var currentPer = current.Busy / Math.Max(1, current.Operations);
        var oursPer = ours.Busy / Math.Max(1, ours.Operations);
        return Row(pattern, $"{currentPer.TotalMilliseconds:F0} ms/{unit}", $"{oursPer.TotalMilliseconds:F1} ms/{unit}", currentPer, oursPer, target);
    }

    private static string[] Row(string pattern, string current, string ours, TimeSpan currentTime, TimeSpan oursTime, string target) =>
        [pattern, current, ours, oursTime > TimeSpan.Zero ? $"{currentTime / oursTime:F1}x" : "-", target];

    private static string Total(TimeSpan t) => $"{t.TotalSeconds:F2} s";

    private static void WriteRow(string[] cells, int[] widths) =>
        Console.WriteLine("| " + string.Join(" | ", cells.Select((cell, c) => cell.PadRight(widths[c]))) + " |");
}
