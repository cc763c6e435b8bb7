using System.Diagnostics;
using System.Text;
using ParallelExec.Agents;

namespace AgentSwarm;

/// <summary>
/// The workflow the way the analysed orchestrator ran it: one thing at a time. Agents are spawned one after another,
/// files read one by one, every note stored and read back with its own memory call, and each hand-off waits for the
/// previous one to finish.
/// </summary>
internal static class SequentialWorkflow
{
    private const string NotesNamespace = "sequential.notes";

    public static async Task<WorkflowRun> RunAsync(SwarmOptions options, Workspace workspace, string databasePath, CancellationToken cancellationToken)
    {
        var run = new WorkflowRun("sequential");
        var progress = new ConsoleProgress(run.Name, workspace.Files.Count);
        var members = Team.Members(options.TeamSize);
        var agents = new List<ProcessAgent>(members.Length);
        var total = Stopwatch.StartNew();
        try
        {
            // 1. Spawn the team, one agent after another.
            var agentOptions = Team.AgentOptions(options);
            foreach (var member in members)
            {
                using (run.Spawning.Start())
                {
                    agents.Add(await ProcessAgent.StartAsync(agentOptions, new AgentSpec { Name = member }, cancellationToken));
                }

                progress.Step($"spawned {member}");
            }

            await using var store = SwarmMemory.Open(options, databasePath);
            var memory = new RemoteMemoryStore(store, options.MemoryLatency);

            // 2. Each member reads its share of the files and summarises it, one file at a time; each note is stored
            //    with its own memory call.
            var notesByAuthor = new List<string>[members.Length];
            for (var m = 0; m < members.Length; m++)
            {
                notesByAuthor[m] = [];
                foreach (var path in workspace.ShareOf(m, members.Length))
                {
                    string text;
                    using (run.Files.Start())
                    {
                        text = await workspace.ReadAsync(path, cancellationToken);
                    }

                    var note = await agents[m].SendAsync(SwarmAgent.SummariseRequest(Team.NoteKey(path), text), cancellationToken);
                    using (run.Memory.Start())
                    {
                        await memory.SetAsync(NotesNamespace, Team.NoteKey(path), Encoding.UTF8.GetBytes(note), cancellationToken: cancellationToken);
                    }

                    notesByAuthor[m].Add(note);
                    progress.FileSummarised();
                }
            }

            // 3. Hand-offs, step by step: each member hands its notes to the next one and waits until the review is
            //    back before the next hand-off starts.
            var reviews = new string[members.Length];
            for (var m = 0; m < members.Length; m++)
            {
                var reviewer = (m + 1) % members.Length;
                using (run.Coordination.Start())
                {
                    await SynchronousStepAsync(options.StepLatency, cancellationToken);
                    reviews[m] = await agents[reviewer].SendAsync(
                        SwarmAgent.ReviewRequest(members[reviewer], members[m], notesByAuthor[m]), cancellationToken);
                }

                progress.Step($"{members[reviewer]} reviewed the notes of {members[m]}");
            }

            // 4. The digest: every note read back from memory, one call per note.
            var notes = new List<string>(workspace.Files.Count);
            foreach (var path in workspace.Files)
            {
                using (run.Memory.Start())
                {
                    var stored = await memory.GetAsync(NotesNamespace, Team.NoteKey(path), cancellationToken)
                        ?? throw new InvalidOperationException($"The note of {path} is missing from memory.");
                    notes.Add(Encoding.UTF8.GetString(stored.Span));
                }
            }

            run.Digest = Team.Digest(reviews, notes);
            run.Elapsed = total.Elapsed;
            run.MemoryCalls = memory.Calls;
            progress.Step($"digest {run.Digest}");
            return run;
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
        }
    }

    /// <summary>A synchronous hand-off: the round trip in which the sender waits for its peer to take the work.</summary>
    public static async Task SynchronousStepAsync(TimeSpan latency, CancellationToken cancellationToken)
    {
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, cancellationToken);
        }
    }
}
