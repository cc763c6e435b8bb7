using System.Diagnostics;

namespace AgentSwarm;

/// <summary>
/// Measures the wall-clock time during which at least one operation of a kind (a spawn, a file read, a memory call, a
/// hand-off) was in flight. Run one at a time, that is the sum of their durations; run concurrently, overlapping
/// operations count once. So the figure is what that kind of work cost the workflow, comparable across both ways.
/// </summary>
internal sealed class PatternClock
{
    private readonly object _gate = new();
    private int _inFlight;
    private long _busySince;
    private TimeSpan _busy;
    private int _operations;

    public TimeSpan Busy
    {
        get
        {
            lock (_gate)
            {
                return _busy;
            }
        }
    }

    public int Operations => Volatile.Read(ref _operations);

    /// <summary>Starts measuring one operation; dispose the result when it ends.</summary>
    public Operation Start()
    {
        lock (_gate)
        {
            if (_inFlight++ == 0)
            {
                _busySince = Stopwatch.GetTimestamp();
            }
        }

        return new Operation(this);
    }

    private void End()
    {
        lock (_gate)
        {
            _operations++;
            if (--_inFlight == 0)
            {
                _busy += Stopwatch.GetElapsedTime(_busySince);
            }
        }
    }

    public readonly struct Operation(PatternClock clock) : IDisposable
    {
        public void Dispose() => clock.End();
    }
}

/// <summary>The clocks of one run of the workflow, one per row of the analysis table, and its result.</summary>
internal sealed class WorkflowRun(string name)
{
    public string Name { get; } = name;

    public PatternClock Spawning { get; } = new();

    public PatternClock Files { get; } = new();

    public PatternClock Memory { get; } = new();

    public PatternClock Coordination { get; } = new();

    public TimeSpan Elapsed { get; set; }

    public int MemoryCalls { get; set; }

    public string Digest { get; set; } = string.Empty;
}
