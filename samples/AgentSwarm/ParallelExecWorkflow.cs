using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using ParallelExec;
using ParallelExec.Agents;
using ParallelExec.Memory;
using ParallelExec.Scheduling;

namespace AgentSwarm;

/// <summary>
/// The same workflow with ParallelExec: the steps are a <see cref="TaskGraph"/>, so that steps that do not depend on
/// each other overlap; the team is spawned in parallel by an <see cref="AgentPool{TAgent}"/>; files are read
/// concurrently with <see cref="ParallelExec.Files.ParallelFiles"/>; concurrent memory calls are coalesced into bulk
/// calls by a <see cref="BatchingMemoryStore"/>; hand-offs go over a <see cref="ParallelExec.Coordination.CoordinationBus"/>
/// without one member waiting for another's.
/// </summary>
internal static class ParallelExecWorkflow
{
    private const string NotesNamespace = "parallelexec.notes";

    public static async Task<WorkflowRun> RunAsync(SwarmOptions options, Workspace workspace, string databasePath, CancellationToken cancellationToken)
    {
        var run = new WorkflowRun("parallelexec");
        var progress = new ConsoleProgress(run.Name, workspace.Files.Count);
        var members = Team.Members(options.TeamSize);
        var total = Stopwatch.StartNew();

        // The resources of the run. Disposing the pool stops every agent process.
        await using var agents = Exec.Agents(Team.AgentOptions(options))
            .WithName("swarm")
            .WithMaxAgents(members.Length)
            .WithMaxConcurrentSpawns(members.Length)
            .WithMaxConcurrencyPerAgent(8)
            .Build();
        await using var bus = Exec.Bus().WithName("swarm").Build();
        await using var store = SwarmMemory.Open(options, databasePath);
        var remote = new RemoteMemoryStore(store, options.MemoryLatency);
        await using var memory = Exec.BatchingMemoryStore(remote).Configure(o => o.MaxDelay = TimeSpan.FromMilliseconds(2)).Build();
        await using var files = Exec.Files().WithMaxDegreeOfParallelism(options.MaxParallelFiles).Build();

        // Each member reviews what its predecessor hands it over the bus. A hand-off still costs its round trip, but
        // hand-offs no longer wait for each other.
        for (var m = 0; m < members.Length; m++)
        {
            var reviewer = members[m];
            bus.Respond<HandOff, string>($"handoff.{reviewer}", async (message, ct) =>
            {
                await SequentialWorkflow.SynchronousStepAsync(options.StepLatency, ct);
                var review = await agents.RunWithAffinityAsync(
                    reviewer, SwarmAgent.ReviewRequest(reviewer, message.Message.Author, message.Message.Notes), ct);
                progress.Step($"{reviewer} reviewed the notes of {message.Message.Author}");
                return review;
            });
        }

        var graph = Exec.Graph()
            .WithName("agent-swarm")
            .WithMaxDegreeOfParallelism(members.Length + 2)

            // Spawning and reading do not depend on each other: they overlap.
            .AddTask("spawn-team", async (_, ct) =>
            {
                using (run.Spawning.Start())
                {
                    await agents.WarmUpAsync(members.Length, ct);
                }

                progress.Step($"spawned {members.Length} agents");
            })
            .AddTask("read-workspace", async (_, ct) =>
            {
                var texts = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
                await foreach (var result in files.ProcessAllAsync(workspace.Files, async (path, token) =>
                {
                    using (run.Files.Start())
                    {
                        texts[path] = await workspace.ReadAsync(path, token);
                    }
                }, ct))
                {
                    result.ThrowIfFailed();
                }

                progress.Step($"read {texts.Count} files");
                return (IReadOnlyDictionary<string, string>)texts;
            });

        // One task per member: summarise its share (its own agent, several files at once), store every note, then hand
        // the notes to the next member over the bus. The members do not wait for each other.
        for (var m = 0; m < members.Length; m++)
        {
            var (author, share, next) = (members[m], workspace.ShareOf(m, members.Length).ToArray(), members[(m + 1) % members.Length]);
            graph.AddTask($"summarise:{author}", async (ctx, ct) =>
            {
                var texts = ctx.GetResult<IReadOnlyDictionary<string, string>>("read-workspace");
                var notes = await Exec.ForEachAsync(share, maxDegreeOfParallelism: 8, async (path, token) =>
                {
                    var note = await agents.RunWithAffinityAsync(author, SwarmAgent.SummariseRequest(Team.NoteKey(path), texts[path]), token);
                    using (run.Memory.Start())
                    {
                        await memory.SetAsync(NotesNamespace, Team.NoteKey(path), Encoding.UTF8.GetBytes(note), cancellationToken: token);
                    }

                    progress.FileSummarised();
                    return note;
                }, ct);

                using (run.Coordination.Start())
                {
                    return await bus.RequestAsync<HandOff, string>($"handoff.{next}", new HandOff(author, notes), cancellationToken: ct);
                }
            }, "spawn-team", "read-workspace");
        }

        // The digest: every note read back from memory; the concurrent reads become a few bulk reads.
        graph.AddTask("digest", async (ctx, ct) =>
        {
            var reviews = members.Select(member => ctx.GetResult<string>($"summarise:{member}")).ToArray();
            var notes = await Exec.ForEachAsync(workspace.Files, maxDegreeOfParallelism: 64, async (path, token) =>
            {
                using (run.Memory.Start())
                {
                    var stored = await memory.GetAsync(NotesNamespace, Team.NoteKey(path), token)
                        ?? throw new InvalidOperationException($"The note of {path} is missing from memory.");
                    return Encoding.UTF8.GetString(stored.Span);
                }
            }, ct);
            return Team.Digest(reviews, notes);
        }, [.. members.Select(static member => $"summarise:{member}")]);

        var result = await graph.Build().RunAsync(cancellationToken);
        result.ThrowIfFailed();

        run.Digest = result.GetValue<string>("digest");
        run.Elapsed = total.Elapsed;
        run.MemoryCalls = remote.Calls;
        progress.Step($"digest {run.Digest}");
        return run;
    }
}
