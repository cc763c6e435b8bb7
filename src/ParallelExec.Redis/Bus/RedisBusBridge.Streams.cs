using System.Text.Json.Serialization.Metadata;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>Stream imports: a consumer group per subscriber name, read in a loop, acknowledged once on the local bus.</summary>
public sealed partial class RedisBusBridge
{
    private async Task StartStreamImportAsync<T>(IConnectionMultiplexer connection, string topic, JsonTypeInfo<T> typeInfo)
    {
        var db = connection.GetDatabase(_options.Database);
        var key = StreamKey(topic);
        var group = _options.SubscriberName!;
        try
        {
            // From now on: a new subscriber starts with what is published after it first subscribed.
            await db.StreamCreateConsumerGroupAsync(key, group, StreamPosition.NewMessages, createStream: true).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // The group exists: this subscriber ran before, and the server kept what it missed.
        }

        Track(Task.Run(() => StreamLoopAsync(db, key, group, topic, typeInfo)));
    }

    private async Task StreamLoopAsync<T>(IDatabase db, RedisKey key, string group, string topic, JsonTypeInfo<T> typeInfo)
    {
        var stop = _stop.Token;
        // First what this subscriber received before a restart and never acknowledged, then new messages.
        RedisValue position = "0-0";
        while (!stop.IsCancellationRequested)
        {
            StreamEntry[] entries;
            try
            {
                entries = await db.StreamReadGroupAsync(key, group, group, position, 100).ConfigureAwait(false);
            }
            catch (Exception ex) when (RedisRetry.IsTransient(ex))
            {
                Interlocked.Increment(ref _failed);
                await PauseAsync(stop).ConfigureAwait(false);
                continue;
            }

            if (entries.Length == 0)
            {
                if (position != StreamPosition.NewMessages)
                {
                    position = StreamPosition.NewMessages;
                    continue;
                }

                await PauseAsync(stop).ConfigureAwait(false);
                continue;
            }

            foreach (var entry in entries)
            {
                var data = RedisStreamFields.Get(entry, RedisStreamFields.Data);
                if (!data.IsNull)
                {
                    try
                    {
                        // Acknowledged only after the local bus took it: a crash in between delivers it again.
                        await ReceiveAsync(topic, (byte[])data!, typeInfo).ConfigureAwait(false);
                    }
                    catch (Exception) when (!stop.IsCancellationRequested)
                    {
                        // Counted and recorded by ReceiveAsync. Left unacknowledged: read again from the pending entries.
                        position = "0-0";
                        await PauseAsync(stop).ConfigureAwait(false);
                        break;
                    }
                    catch (Exception)
                    {
                        return;
                    }
                }

                await db.StreamAcknowledgeAsync(key, group, entry.Id).ConfigureAwait(false);
                if (position != StreamPosition.NewMessages)
                {
                    position = entry.Id;
                }
            }
        }
    }

    private async Task PauseAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(_options.PollInterval, _options.TimeProvider, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
