using System.Globalization;
using ParallelExec.Tests.Infrastructure;
using StackExchange.Redis;

namespace ParallelExec.Redis.Tests;

/// <summary>The work queue with consumers in other processes, one of them killed with SIGKILL mid-run.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisQueueCrossProcessTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Ledger_three_consumer_processes_one_killed_mid_run_complete_every_item_with_duplicates_only_for_its_unacknowledged_items()
    {
        const int Items = 600;
        var prefix = RedisServerFixture.UniquePrefix("queue-kill");
        var stream = prefix + "jobs";
        var ledgerKey = prefix + "ledger";
        var db = redis.Connection.GetDatabase();
        await using (var producer = new RedisWorkQueue<string>(new RedisWorkQueueOptions { Configuration = redis.Configuration, StreamKey = stream }))
        {
            var ids = Enumerable.Range(0, Items).Select(i => "item-" + i.ToString("D4", CultureInfo.InvariantCulture));
            Assert.Equal(Items, await producer.EnqueueManyAsync(ids.Select(id => new KeyValuePair<string, string>(id, "payload of " + id))));
        }

        // Each handler takes 20 ms and then records "<id>|<consumer>"; its consumer acknowledges after that. The claim
        // idle time (3 s) is far above a handler run even on a loaded machine, so only the victim's items are taken over.
        // The victim's handlers take longer (100 ms), so that it holds taken, unacknowledged items nearly all the time:
        // killed between two reads with everything acknowledged, it would leave nothing to reclaim (a CI run under load
        // did that once with 20 ms handlers).
        string[] Args(string consumer, string handlerMs) => ["consume", redis.Configuration, stream, consumer, ledgerKey, handlerMs, "3000", "4"];
        await using var victim = await WorkerProcess.StartAsync(Args("victim", "100"));
        await using var first = await WorkerProcess.StartAsync(Args("survivor-1", "20"));
        await using var second = await WorkerProcess.StartAsync(Args("survivor-2", "20"));

        // The victim must die holding taken, unacknowledged items. Checking its pending list and then killing it left a
        // window in which it acknowledged its last items before reading more (a CI run found it empty): so it is frozen
        // first, given time for what it already sent to reach the server, and its pending list read while it can send
        // nothing more; a freeze that finds it holding nothing is undone and tried again.
        await TestTimeout.WaitUntilAsync(() => Completions(db, ledgerKey).Count(c => c.Consumer == "victim") >= 5);
        StreamPendingMessageInfo[] pending;
        for (var attempt = 1; ; attempt++)
        {
            await victim.FreezeAsync(frozen: true);
            await Task.Delay(200);
            pending = await db.StreamPendingMessagesAsync(stream, "workers", 1_000, "victim");
            if (pending.Length > 0)
            {
                break;
            }

            Assert.True(attempt < 50, "the victim never held an unacknowledged item when frozen");
            await victim.FreezeAsync(frozen: false);
            await Task.Delay(30);
        }

        victim.Kill();

        // What the victim had taken and not acknowledged when it died: only these may run twice. (Read while it was
        // frozen: a survivor may claim them from now on, after the 3 s idle time, which moves them off its list.)
        var pendingIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in pending)
        {
            var found = await db.StreamRangeAsync(stream, entry.MessageId, entry.MessageId);
            pendingIds.Add((string)found.Single().Values.Single(v => v.Name == "id").Value!);
        }

        Assert.NotEmpty(pendingIds);
        Assert.True(Completions(db, ledgerKey).Select(c => c.Id).Distinct().Count() < Items, "the victim was killed after the run had finished");

        // Every item completed once is not the end: the victim's completed-but-unacknowledged items are still pending
        // until a survivor reclaims them (after the 3 s idle time) and runs them again. Wait for the group to drain too.
        await TestTimeout.WaitUntilAsync(() =>
            Completions(db, ledgerKey).Select(c => c.Id).Distinct().Count() == Items
            && db.StreamPending(stream, "workers").PendingMessageCount == 0);
        await first.StopAsync();
        await second.StopAsync();

        var completions = Completions(db, ledgerKey);
        var byId = completions.GroupBy(c => c.Id).ToDictionary(g => g.Key, g => g.Select(c => c.Consumer).ToList());
        Assert.Equal(Enumerable.Range(0, Items).Select(i => "item-" + i.ToString("D4", CultureInfo.InvariantCulture)), byId.Keys.Order(StringComparer.Ordinal));
        var duplicated = byId.Where(p => p.Value.Count > 1).ToList();
        // A duplicate is an item the victim completed and died before acknowledging; a survivor then ran it once more.
        Assert.All(duplicated, p =>
        {
            Assert.Contains(p.Key, pendingIds);
            Assert.Equal(2, p.Value.Count);
            Assert.Equal(1, p.Value.Count(c => c == "victim"));
        });
        var expectedDuplicates = pendingIds.Count(id => byId[id].Contains("victim"));
        Assert.Equal(expectedDuplicates, duplicated.Count);
        Assert.Equal(Items + expectedDuplicates, completions.Count);
        // The group is drained: nothing pending, nothing left in the stream, nothing dead-lettered.
        Assert.Equal(0, (await db.StreamPendingAsync(stream, "workers")).PendingMessageCount);
        Assert.Equal(0, await db.StreamLengthAsync(stream));
        Assert.Equal(0, await db.StreamLengthAsync(stream + ":dead"));
    }

    private static List<(string Id, string Consumer)> Completions(IDatabase db, string ledgerKey) =>
        db.ListRange(ledgerKey).Select(v => ((string)v!).Split('|')).Select(p => (p[0], p[1])).ToList();
}
