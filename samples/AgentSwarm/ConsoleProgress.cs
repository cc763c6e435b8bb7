using System.Diagnostics;

namespace AgentSwarm;

/// <summary>Shows progress while a run goes: a line per finished step, and a live counter of summarised files.</summary>
internal sealed class ConsoleProgress(string runName, int fileCount)
{
    private static readonly bool Interactive = !Console.IsOutputRedirected;
    private readonly object _gate = new();
    private readonly long _started = Stopwatch.GetTimestamp();
    private int _summarised;
    private bool _counterShown;

    public void Step(string step)
    {
        lock (_gate)
        {
            ClearCounter();
            Console.WriteLine($"  [{runName}] {Stopwatch.GetElapsedTime(_started).TotalSeconds,6:F2} s  {step}");
        }
    }

    public void FileSummarised()
    {
        lock (_gate)
        {
            var done = ++_summarised;
            if (Interactive)
            {
                Console.Write($"\r  [{runName}] {Stopwatch.GetElapsedTime(_started).TotalSeconds,6:F2} s  summarised {done}/{fileCount} files");
                _counterShown = true;
            }
            else if (done == fileCount || done % Math.Max(1, fileCount / 4) == 0)
            {
                Console.WriteLine($"  [{runName}] {Stopwatch.GetElapsedTime(_started).TotalSeconds,6:F2} s  summarised {done}/{fileCount} files");
            }
        }
    }

    private void ClearCounter()
    {
        if (_counterShown)
        {
            Console.Write("\r" + new string(' ', 72) + "\r");
            _counterShown = false;
        }
    }
}
