using System.Globalization;

namespace ParallelExec.Scheduling;

/// <summary>
/// Validates a batch of task definitions and wires them by index: the whole graph at build time, or the tasks one
/// running task adds. Everything here is linear in tasks plus edges and iterative (no recursion), so a 100,000-task chain
/// cannot overflow the stack.
/// </summary>
internal static class GraphValidator
{
    /// <summary>
    /// Checks ids and dependencies, detects cycles, fills <see cref="TaskDefinition.Index"/>, the dependency and
    /// dependent indices and <see cref="TaskDefinition.CriticalPath"/>.
    /// </summary>
    /// <param name="batch">The new definitions, in the order they were added.</param>
    /// <param name="baseIndex">The run index of the first definition of the batch.</param>
    /// <param name="existing">Resolves an id outside the batch to its run index, or -1; <see langword="null"/> when the batch is the whole graph.</param>
    /// <param name="subject">What the batch is, for the error message ("task graph", ...).</param>
    /// <exception cref="TaskGraphValidationException">The batch is invalid.</exception>
    public static void Validate(List<TaskDefinition> batch, int baseIndex, Func<string, int>? existing, string subject)
    {
        var count = batch.Count;
        var local = new Dictionary<string, int>(count, StringComparer.Ordinal);
        List<string>? errors = null;
        Dictionary<string, int>? duplicates = null;

        for (var i = 0; i < count; i++)
        {
            var definition = batch[i];
            definition.Index = baseIndex + i;
            if (!local.TryAdd(definition.Id, i))
            {
                duplicates ??= new Dictionary<string, int>(StringComparer.Ordinal);
                duplicates[definition.Id] = duplicates.TryGetValue(definition.Id, out var seen) ? seen + 1 : 2;
            }
            else if (existing is not null && existing(definition.Id) >= 0)
            {
                (errors ??= []).Add($"Task id '{definition.Id}' already exists in the running graph.");
            }
        }

        if (duplicates is not null)
        {
            foreach (var (id, times) in duplicates)
            {
                (errors ??= []).Add(string.Create(CultureInfo.InvariantCulture, $"Task id '{id}' is used by {times} tasks."));
            }
        }

        // In-batch in-degree and dependent counts, for Kahn's algorithm and the dependent arrays.
        var inDegree = new int[count];
        var dependentCount = new int[count];
        for (var i = 0; i < count; i++)
        {
            var definition = batch[i];
            var ids = RemoveDuplicates(definition.DependencyIds);
            definition.DependencyIds = ids;
            if (ids.Length == 0)
            {
                continue;
            }

            var indices = new int[ids.Length];
            for (var d = 0; d < ids.Length; d++)
            {
                var dependencyId = ids[d];
                if (string.Equals(dependencyId, definition.Id, StringComparison.Ordinal))
                {
                    (errors ??= []).Add($"Task '{definition.Id}' depends on itself.");
                    indices[d] = -1;
                }
                else if (local.TryGetValue(dependencyId, out var j))
                {
                    indices[d] = baseIndex + j;
                    inDegree[i]++;
                    dependentCount[j]++;
                }
                else if (existing is not null && existing(dependencyId) is var index and >= 0)
                {
                    indices[d] = index;
                }
                else
                {
                    (errors ??= []).Add($"Task '{definition.Id}' depends on unknown task '{dependencyId}'.");
                    indices[d] = -1;
                }
            }

            definition.DependencyIndices = indices;
        }

        if (errors is not null)
        {
            throw new TaskGraphValidationException($"The {subject} is invalid: {string.Join(" ", errors)}", errors, null);
        }

        for (var j = 0; j < count; j++)
        {
            if (dependentCount[j] > 0)
            {
                batch[j].DependentIndices = new int[dependentCount[j]];
                dependentCount[j] = 0;
            }
        }

        for (var i = 0; i < count; i++)
        {
            foreach (var index in batch[i].DependencyIndices)
            {
                var j = index - baseIndex;
                if (j >= 0)
                {
                    batch[j].DependentIndices[dependentCount[j]++] = baseIndex + i;
                }
            }
        }

        // Kahn: a topological order of the batch, or the proof that a cycle exists.
        var order = new int[count];
        var remaining = (int[])inDegree.Clone();
        int head = 0, tail = 0;
        for (var i = 0; i < count; i++)
        {
            if (remaining[i] == 0)
            {
                order[tail++] = i;
            }
        }

        while (head < tail)
        {
            var i = order[head++];
            foreach (var dependent in batch[i].DependentIndices)
            {
                if (--remaining[dependent - baseIndex] == 0)
                {
                    order[tail++] = dependent - baseIndex;
                }
            }
        }

        if (tail < count)
        {
            var cycle = FindCycle(batch, baseIndex, remaining);
            var text = string.Join(" -> ", cycle);
            throw new TaskGraphValidationException(
                $"The {subject} has a cycle: {text} (each task depends on the next).",
                [$"Cycle: {text}."],
                cycle);
        }

        // Critical path in one reverse topological pass: a task's weight plus the heaviest path among its dependents.
        for (var k = count - 1; k >= 0; k--)
        {
            var definition = batch[order[k]];
            var longestAfter = 0.0;
            foreach (var dependent in definition.DependentIndices)
            {
                longestAfter = Math.Max(longestAfter, batch[dependent - baseIndex].CriticalPath);
            }

            definition.CriticalPath = definition.Cost + longestAfter;
        }

        foreach (var definition in batch)
        {
            if (definition.DependencyIndices.Length > 1)
            {
                Array.Sort(definition.DependencyIndices);
            }
        }
    }

    /// <summary>
    /// Walks from a task left over by Kahn's algorithm along dependencies that were also left over until a task repeats.
    /// Every left-over task has such a dependency, so the walk ends on a cycle within at most <c>count</c> steps.
    /// </summary>
    private static List<string> FindCycle(List<TaskDefinition> batch, int baseIndex, int[] remaining)
    {
        var count = batch.Count;
        var start = Array.FindIndex(remaining, r => r > 0);
        var positionInPath = new int[count];
        Array.Fill(positionInPath, -1);
        var path = new List<int>();
        var current = start;
        while (positionInPath[current] < 0)
        {
            positionInPath[current] = path.Count;
            path.Add(current);
            // Dependency indices are still in the user's order here (they are sorted only after this check).
            var next = -1;
            foreach (var index in batch[current].DependencyIndices)
            {
                var j = index - baseIndex;
                if (j >= 0 && remaining[j] > 0)
                {
                    next = j;
                    break;
                }
            }

            current = next;
        }

        var cycle = path.GetRange(positionInPath[current], path.Count - positionInPath[current]);

        // Start the report at the task added first, so the same cycle always reads the same way.
        var first = cycle.IndexOf(cycle.Min());
        var ids = new List<string>(cycle.Count + 1);
        for (var k = 0; k <= cycle.Count; k++)
        {
            ids.Add(batch[cycle[(first + k) % cycle.Count]].Id);
        }

        return ids;
    }

    private static string[] RemoveDuplicates(string[] ids)
    {
        if (ids.Length < 2)
        {
            return ids;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unique = new List<string>(ids.Length);
        foreach (var id in ids)
        {
            if (seen.Add(id))
            {
                unique.Add(id);
            }
        }

        return unique.Count == ids.Length ? ids : [.. unique];
    }
}
