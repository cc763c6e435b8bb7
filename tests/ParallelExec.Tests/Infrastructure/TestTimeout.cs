namespace ParallelExec.Tests.Infrastructure;

/// <summary>
/// An "unexpected timeout": a bound that only catches hangs. Tests never rely on it for timing; a test that reaches it
/// has deadlocked or lost an item, and fails with a clear message instead of hanging the run.
/// </summary>
public static class TestTimeout
{
    /// <summary>Long enough that a healthy test on a loaded 2-core CI machine never reaches it.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>Awaits <paramref name="task"/> or fails the test when it has not completed within <see cref="Unexpected"/>.</summary>
    public static async Task WithTimeout(this Task task, TimeSpan? timeout = null)
    {
        try
        {
            await task.WaitAsync(timeout ?? Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The operation did not complete within {timeout ?? Unexpected}: probable hang.");
        }
    }

    /// <inheritdoc cref="WithTimeout(Task, TimeSpan?)"/>
    public static async Task<T> WithTimeout<T>(this Task<T> task, TimeSpan? timeout = null)
    {
        try
        {
            return await task.WaitAsync(timeout ?? Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The operation did not complete within {timeout ?? Unexpected}: probable hang.");
        }
    }

    /// <inheritdoc cref="WithTimeout(Task, TimeSpan?)"/>
    public static Task WithTimeout(this ValueTask task, TimeSpan? timeout = null) => task.AsTask().WithTimeout(timeout);

    /// <inheritdoc cref="WithTimeout(Task, TimeSpan?)"/>
    public static Task<T> WithTimeout<T>(this ValueTask<T> task, TimeSpan? timeout = null) => task.AsTask().WithTimeout(timeout);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds, for state that a component changes on another thread and
    /// exposes no event for (a counter, a subscription count). The poll interval is not a timing assumption: the
    /// condition's truth is what the test asserts, and <see cref="Unexpected"/> only turns a hang into a failure.
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (elapsed.Elapsed > Unexpected)
            {
                throw new TimeoutException($"The condition did not become true within {Unexpected}: probable hang or lost item.");
            }

            await Task.Delay(1);
        }
    }
}
