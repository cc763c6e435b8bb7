using System.Diagnostics;
using System.Text;
using ParallelExec.Testing;
using ParallelExec.Tests.Infrastructure;
using StackExchange.Redis;

namespace ParallelExec.Redis.Tests;

/// <summary>The server restarted under a running writer: every call fails clearly or is retried to success; none is lost silently.</summary>
public sealed class RedisRestartTests
{
    [Fact]
    public async Task Ledger_writes_across_a_server_restart_each_succeed_or_fail_with_a_connection_error_and_none_is_silently_dropped()
    {
        // Its own server: restarting the shared one would disturb the other tests.
        await using var server = await RedisServerProcess.StartAsync();
        await using var store = new RedisMemoryStore(new RedisMemoryStoreOptions { Configuration = server.Configuration, MaxRetries = 8, RetryDelay = TimeSpan.FromMilliseconds(50) });
        var clock = Stopwatch.StartNew();
        var outcomes = new List<(int Index, TimeSpan Started, TimeSpan Ended, Exception? Error)>();
        using var stop = new CancellationTokenSource();
        var afterRestart = new TaskCompletionSource();
        TimeSpan killed = TimeSpan.MaxValue, restarted = TimeSpan.MaxValue;

        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var started = clock.Elapsed;
                Exception? error = null;
                try
                {
                    await store.SetAsync("ledger", "k" + i, Encoding.UTF8.GetBytes("v" + i));
                }
                catch (Exception ex)
                {
                    error = ex;
                }

                lock (outcomes)
                {
                    outcomes.Add((i, started, clock.Elapsed, error));
                    if (started > restarted && outcomes.Count(o => o.Started > restarted && o.Error is null) >= 50)
                    {
                        afterRestart.TrySetResult();
                    }
                }
            }
        });

        await TestTimeout.WaitUntilAsync(() => { lock (outcomes) { return outcomes.Count >= 50; } });
        server.Kill();
        killed = clock.Elapsed;
        await server.RestartAsync();
        restarted = clock.Elapsed;
        await afterRestart.Task.WithTimeout();
        await stop.CancelAsync();
        await writer.WithTimeout();

        List<(int Index, TimeSpan Started, TimeSpan Ended, Exception? Error)> all;
        lock (outcomes)
        {
            all = [.. outcomes];
        }

        // Every failure is a clear connection error of a call that overlapped the outage.
        Assert.All(all.Where(o => o.Error is not null), o =>
        {
            Assert.True(o.Error is RedisConnectionException or RedisTimeoutException, o.Error!.ToString());
            Assert.True(o.Started < restarted && o.Ended > killed, $"write {o.Index} failed outside the outage: {o.Error}");
        });
        // Every write that began after the old server died and reported success is on the new server.
        var afterKill = all.Where(o => o.Started > killed && o.Error is null).Select(o => "k" + o.Index).ToList();
        var found = await store.GetManyAsync("ledger", afterKill);
        Assert.Equal(afterKill.Order(StringComparer.Ordinal), found.Keys.Order(StringComparer.Ordinal));
        Assert.True(afterKill.Count >= 50);
        // Some writes ran into the outage (they waited, were retried, or failed): the test did restart under load.
        Assert.Contains(all, o => o.Started < restarted && o.Ended > killed);
        var statistics = store.GetStatistics();
        Assert.Equal(all.Count + afterKill.Count, statistics.Ledger.Submitted);
        Assert.Equal(all.Count(o => o.Error is not null), statistics.Ledger.Failed);
    }
}
