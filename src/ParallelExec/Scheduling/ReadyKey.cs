namespace ParallelExec.Scheduling;

/// <summary>
/// The ordering of ready tasks in the min-heap: "smaller" starts first. Higher explicit priority first, then the longer
/// critical path, then the task that became ready first (so equal tasks run in a stable order).
/// </summary>
internal readonly struct ReadyKey : IComparable<ReadyKey>
{
    private readonly int _priority;
    private readonly double _criticalPath;
    private readonly long _sequence;

    public ReadyKey(int priority, double criticalPath, long sequence)
    {
        _priority = priority;
        _criticalPath = criticalPath;
        _sequence = sequence;
    }

    public int CompareTo(ReadyKey other)
    {
        if (_priority != other._priority)
        {
            return _priority > other._priority ? -1 : 1;
        }

        if (_criticalPath != other._criticalPath)
        {
            return _criticalPath > other._criticalPath ? -1 : 1;
        }

        return _sequence.CompareTo(other._sequence);
    }
}
