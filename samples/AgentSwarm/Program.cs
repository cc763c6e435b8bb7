using AgentSwarm;

// The same executable is the agent: the orchestrator starts it again with --agent (see SwarmAgent).
if (args.Length > 0 && args[0] == "--agent")
{
    return await SwarmAgent.RunAsync(args);
}

SwarmOptions options;
try
{
    options = SwarmOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(SwarmOptions.HelpText);
    return 0;
}

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

var ownsWorkDirectory = options.WorkDirectory is null;
var workDirectory = options.WorkDirectory ?? Directory.CreateTempSubdirectory("agentswarm-").FullName;
var databasePath = options.DatabasePath ?? Path.Combine(workDirectory, "memory.db");
try
{
    var workspace = Workspace.Generate(workDirectory, options.FileCount, options.FileLatency);
    Console.WriteLine($"AgentSwarm: {options.TeamSize} agents, {options.FileCount} files in {workspace.Directory}");
    Console.WriteLine(options.RedisServer is { } redis ? $"Memory: Redis at {redis}" : $"Memory: SQLite at {databasePath}");
    Console.WriteLine(
        $"Simulated latencies: agent start-up {Ms(options.AgentStartup)}, file {Ms(options.FileLatency)}, " +
        $"memory call {Ms(options.MemoryLatency)}, synchronous step {Ms(options.StepLatency)} (--help to change them)");
    Console.WriteLine();

    Console.WriteLine("The current way, one thing at a time:");
    var sequential = await SequentialWorkflow.RunAsync(options, workspace, databasePath, cancellation.Token);
    Console.WriteLine();
    Console.WriteLine("The ParallelExec way:");
    var parallel = await ParallelExecWorkflow.RunAsync(options, workspace, databasePath, cancellation.Token);
    Console.WriteLine();

    var same = sequential.Digest == parallel.Digest;
    Console.WriteLine(same
        ? $"Same result both ways: digest {parallel.Digest} over {options.FileCount} notes and {options.TeamSize} reviews."
        : $"DIFFERENT RESULTS: sequential digest {sequential.Digest}, ParallelExec digest {parallel.Digest}.");
    Console.WriteLine();
    ResultTable.Print(options, sequential, parallel);
    return same ? 0 : 1;
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    Console.Error.WriteLine("Cancelled.");
    return 130;
}
finally
{
    if (ownsWorkDirectory && !options.Keep)
    {
        try
        {
            Directory.Delete(workDirectory, recursive: true);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"Could not delete {workDirectory}: {ex.Message}");
        }
    }
    else
    {
        Console.WriteLine($"Kept {workDirectory}");
    }
}

static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:F0} ms";
