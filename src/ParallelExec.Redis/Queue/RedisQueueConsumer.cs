using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ParallelExec.Internal;
using ParallelExec.Workers;
using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

// Locking: _lock guards the ledger only, held for counting. The read loop is one task; handlers run on the worker pool;
// _slots (a semaphore of MaxDegreeOfParallelism) makes the loop take from the stream only as many entries as there is
// room to run, so nothing waits in this process that another consumer could have run.

/// <summary>
/// A consumer of a distributed work queue on a Redis stream consumer group: it takes items as it has room to run them,
/// runs each on a <see cref="WorkerPool"/> with bounded concurrency, acknowledges (<c>XACK</c>) on success, takes over
/// (<c>XAUTOCLAIM</c>) the items another consumer left unacknowledged for <see cref="RedisWorkQueueOptions.ClaimIdleTime"/>,
/// and moves an item delivered <see cref="RedisWorkQueueOptions.MaxDeliveries"/> times to the dead-letter stream.
/// </summary>
/// <typeparam name="T">The payload type.</typeparam>
/// <remarks>
/// <para>
/// At least once: an item whose consumer dies after running it and before acknowledging it runs again elsewhere; one
/// whose handler throws runs again after the claim idle time. Duplicates carry the same <see cref="RedisWorkItem{T}.Id"/>:
/// key the handler's effect on it to make the work effectively once.
/// </para>
/// <para>
/// Lifecycle (<see cref="IExecComponent"/>): <see cref="Complete"/> stops taking items; <see cref="Completion"/> ends when the
/// running ones have ended. <see cref="DisposeAsync"/> also waits up to <see cref="ComponentOptions.DrainTimeout"/> and then
/// cancels the handlers; their items stay pending in the group and another consumer takes them over. The queue loses
/// nothing to a disposal or a crash.
/// </para>
/// </remarks>
public sealed class RedisQueueConsumer<T> : IExecComponent, IInstrumentedComponent
{
    private const string ItemSpan = "parallelexec.queue.item";

    private readonly RedisWorkQueueOptions _options;
    private readonly Func<RedisWorkItem<T>, CancellationToken, ValueTask> _handler;
    private readonly RedisConnectionSource _connection;
    private readonly ResiliencePipeline _pipeline;
    private readonly JsonTypeInfo<T> _typeInfo;
    private readonly WorkerPool _pool;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<string, bool> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly ItemReporter _reporter;
    private readonly object _lock = new();
    private readonly ItemLedger _ledger = new();
    private readonly RedisKey _stream;
    private readonly RedisKey _deadLetters;
    private readonly Task _loop;
    private readonly Task _completion;
    private long _claimed;
    private long _deadLettered;
    private long _reads;
    private int _disposeStarted;
    private Task? _disposal;

    /// <summary>Starts building a consumer that opens its own connection from <paramref name="configuration"/>.</summary>
    /// <param name="configuration">The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>.</param>
    /// <param name="streamKey">The key of the queue's stream.</param>
    /// <param name="handler">Runs one item; returning acknowledges it, throwing leaves it for another delivery.</param>
    /// <returns>A single-use builder; <c>Build()</c> starts consuming.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static RedisQueueConsumerBuilder<T> CreateBuilder(string configuration, string streamKey, Func<RedisWorkItem<T>, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(streamKey);
        ArgumentNullException.ThrowIfNull(handler);
        return new RedisQueueConsumerBuilder<T>(new RedisWorkQueueOptions { Configuration = configuration, StreamKey = streamKey }, handler);
    }

    /// <summary>Starts building a consumer on a connection the application owns (never closed by the consumer).</summary>
    /// <param name="connection">The connection.</param>
    /// <param name="streamKey">The key of the queue's stream.</param>
    /// <param name="handler">Runs one item; returning acknowledges it, throwing leaves it for another delivery.</param>
    /// <returns>A single-use builder; <c>Build()</c> starts consuming.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static RedisQueueConsumerBuilder<T> CreateBuilder(IConnectionMultiplexer connection, string streamKey, Func<RedisWorkItem<T>, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(streamKey);
        ArgumentNullException.ThrowIfNull(handler);
        return new RedisQueueConsumerBuilder<T>(new RedisWorkQueueOptions { Connection = connection, StreamKey = streamKey }, handler);
    }

    /// <summary>Initializes a new instance of the <see cref="RedisQueueConsumer{T}"/> class and starts consuming.</summary>
    /// <param name="options">The options; validated and copied.</param>
    /// <param name="handler">Runs one item; returning acknowledges it, throwing leaves it for another delivery.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="handler"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public RedisQueueConsumer(RedisWorkQueueOptions options, Func<RedisWorkItem<T>, CancellationToken, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        _options = options.Clone();
        _options.Validate();
        _handler = handler;
        Name = _options.Name;
        ConsumerName = _options.ConsumerName ?? $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}"[..^24];
        _stream = _options.StreamKey;
        _deadLetters = _options.DeadLetterKey;
        _connection = _options.CreateConnection();
        _pipeline = _options.CreatePipeline();
        _typeInfo = RedisJson.TypeInfo<T>(_options.SerializerOptions);
        _slots = new SemaphoreSlim(_options.MaxDegreeOfParallelism, _options.MaxDegreeOfParallelism);
        _pool = new WorkerPool(new WorkerPoolOptions
        {
            Name = Name + ".workers",
            MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
            QueueCapacity = _options.MaxDegreeOfParallelism,
            TimeProvider = _options.TimeProvider,
            DrainTimeout = _options.DrainTimeout,
            MeterFactory = _options.MeterFactory,
        });
        var instruments = ComponentInstruments.Get("queue", _options.MeterFactory);
        _reporter = new ItemReporter(Name, _options.TimeProvider, instruments, onDropped: null, _options.OnError);
        instruments.Live.Add(this);
        _loop = Task.Run(ReadLoopAsync);
        _completion = CompleteAfterLoopAsync();
    }

    /// <summary>Gets the consumer's name (<see cref="ComponentOptions.Name"/>), the tag of its metrics and spans.</summary>
    public string Name { get; }

    /// <summary>Gets the consumer's name in its group (<see cref="RedisWorkQueueOptions.ConsumerName"/>).</summary>
    public string ConsumerName { get; }

    /// <inheritdoc/>
    public Task Completion => _completion;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    /// <summary>Stops taking items from the stream; the running ones finish. Idempotent.</summary>
    public void Complete() => _stop.Cancel();

    /// <summary>Gets a snapshot of the consumer's counters.</summary>
    /// <returns>The counters since the consumer started.</returns>
    public RedisQueueConsumerStatistics GetStatistics() =>
        new(Name, ((IInstrumentedComponent)this).ReadLedger(), ConsumerName, Interlocked.Read(ref _claimed), Interlocked.Read(ref _deadLettered), Interlocked.Read(ref _reads));

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_lock)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>Stops taking items, waits for the running ones up to <see cref="ComponentOptions.DrainTimeout"/>, cancels the rest (they stay pending for another consumer) and closes the connection it opened. Idempotent.</summary>
    /// <returns>A task that completes when the consumer has stopped.</returns>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 0)
        {
            _disposal = DisposeCoreAsync();
        }

        return new ValueTask(_disposal!);
    }

    private async Task DisposeCoreAsync()
    {
        Complete();
        await _loop.ConfigureAwait(false);
        await _pool.DisposeAsync().ConfigureAwait(false);
        await _completion.ConfigureAwait(false);
        ComponentInstruments.Get("queue", _options.MeterFactory).Live.Remove(this);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task CompleteAfterLoopAsync()
    {
        await _loop.ConfigureAwait(false);
        _pool.Complete();
        await _pool.Completion.ConfigureAwait(false);
    }

    private Task<TResult> CallAsync<TResult>(Func<IDatabase, Task<TResult>> call) =>
        _pipeline.ExecuteAsync(
            static async (context, token) =>
            {
                var connection = await context.Consumer._connection.GetAsync(token).ConfigureAwait(false);
                return await context.Call(connection.GetDatabase(context.Consumer._options.Database)).ConfigureAwait(false);
            },
            (Consumer: this, Call: call),
            CancellationToken.None).AsTask();

    private async Task ReadLoopAsync()
    {
        var stop = _stop.Token;
        var time = _options.TimeProvider;
        var claimEvery = TimeSpan.FromTicks(Math.Max(_options.ClaimIdleTime.Ticks / 2, TimeSpan.FromMilliseconds(10).Ticks));
        var nextClaim = time.GetTimestamp();
        var groupReady = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            var free = 1;
            while (_slots.Wait(0))
            {
                free++;
            }

            var taken = 0;
            try
            {
                if (!groupReady)
                {
                    await CallAsync(db => CreateGroupAsync(db)).ConfigureAwait(false);
                    groupReady = true;
                }

                if (time.GetTimestamp() >= nextClaim)
                {
                    nextClaim = time.GetTimestamp() + (long)(claimEvery.TotalSeconds * time.TimestampFrequency);
                    taken += await ClaimAsync(free).ConfigureAwait(false);
                }

                if (taken < free)
                {
                    Interlocked.Increment(ref _reads);
                    var entries = await CallAsync(db => db.StreamReadGroupAsync(_stream, _options.GroupName, ConsumerName, StreamPosition.NewMessages, free - taken)).ConfigureAwait(false);
                    foreach (var entry in entries)
                    {
                        await DispatchAsync(entry, deliveries: 1).ConfigureAwait(false);
                        taken++;
                    }
                }
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                // The server is unreachable past the retry: nothing was taken that is not pending in the group, so
                // nothing is lost; report it and try again after a pause.
                Telemetry.RecordFailure(Activity.Current, ex);
                _reporter.CountFailure();
                _slots.Release(free - taken);
                await DelayAsync(_options.RetryDelay, stop).ConfigureAwait(false);
                continue;
            }

            if (taken < free)
            {
                _slots.Release(free - taken);
            }

            if (taken == 0)
            {
                await DelayAsync(_options.PollInterval, stop).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> CreateGroupAsync(IDatabase db)
    {
        try
        {
            // From the start of the stream: items enqueued before the first consumer ran are processed too.
            return await db.StreamCreateConsumerGroupAsync(_stream, _options.GroupName, StreamPosition.Beginning, createStream: true).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            return false;
        }
    }

    /// <summary>Takes over up to <paramref name="room"/> entries pending longer than the claim idle time; returns how many it dispatched.</summary>
    private async Task<int> ClaimAsync(int room)
    {
        var idle = (long)_options.ClaimIdleTime.TotalMilliseconds;
        // An entry this consumer was running when the claim went out is its own: still running, or finished (and
        // acknowledged, or failed and due again) by the time the reply arrives. Running it again would be a duplicate.
        var ownAtClaim = new HashSet<string>(_running.Keys, StringComparer.Ordinal);
        var claim = await CallAsync(db => db.StreamAutoClaimAsync(_stream, _options.GroupName, ConsumerName, idle, "0-0", room)).ConfigureAwait(false);
        if (claim.DeletedIds.Length > 0)
        {
            // Entries trimmed or deleted while pending: nothing left to run, clear them from the group.
            await CallAsync(db => db.StreamAcknowledgeAsync(_stream, _options.GroupName, claim.DeletedIds)).ConfigureAwait(false);
        }

        var entries = claim.ClaimedEntries.Where(e => !ownAtClaim.Contains(e.Id.ToString()) && !_running.ContainsKey(e.Id.ToString())).ToArray();
        if (entries.Length == 0)
        {
            return 0;
        }

        // XAUTOCLAIM counted this delivery; read the counts to decide what goes to the dead-letter stream.
        var ids = entries.Select(e => e.Id.ToString()).Order(StreamIdComparer.Instance).ToArray();
        var (first, last) = (ids[0], ids[^1]);
        var pending = await CallAsync(db => db.StreamPendingMessagesAsync(_stream, _options.GroupName, entries.Length + 16, ConsumerName, first, last)).ConfigureAwait(false);
        var counts = pending.ToDictionary(p => p.MessageId.ToString(), p => (long)p.DeliveryCount, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            Interlocked.Increment(ref _claimed);
            await DispatchAsync(entry, counts.TryGetValue(entry.Id.ToString(), out var count) ? count : 2).ConfigureAwait(false);
        }

        return entries.Length;
    }

    private async Task DispatchAsync(StreamEntry entry, long deliveries)
    {
        var entryId = entry.Id.ToString();
        _running[entryId] = true;
        lock (_lock)
        {
            _ledger.Accept(queued: true);
        }

        _reporter.Submitted();
        var result = await _pool.PostAsync(ct => RunAsync(entry, entryId, deliveries, ct)).ConfigureAwait(false);
        if (result is not PostResult.Accepted and not PostResult.AcceptedAfterDrop)
        {
            // The pool refused (it is being disposed): the entry stays pending in the group for another consumer.
            _running.TryRemove(entryId, out _);
            lock (_lock)
            {
                _ledger.EndQueued(DropReason.Cancelled);
            }

            _slots.Release();
        }
    }

    private async ValueTask RunAsync(StreamEntry entry, string entryId, long deliveries, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _ledger.Start();
        }

        var outcome = ItemOutcome.Failed;
        Activity? span = null;
        string? id = null;
        try
        {
            id = (string?)RedisStreamFields.Get(entry, RedisStreamFields.Id);
            var data = RedisStreamFields.Get(entry, RedisStreamFields.Data);
            if (id is null || data.IsNull)
            {
                await DeadLetterAsync(entry, entryId, deliveries, "The entry has no id or no data field.").ConfigureAwait(false);
                return;
            }

            if (deliveries > _options.MaxDeliveries)
            {
                await DeadLetterAsync(entry, entryId, deliveries, $"Delivered {deliveries} times; MaxDeliveries is {_options.MaxDeliveries}.").ConfigureAwait(false);
                return;
            }

            T message;
            try
            {
                message = JsonSerializer.Deserialize((byte[])data!, _typeInfo)!;
            }
            catch (JsonException ex)
            {
                await DeadLetterAsync(entry, entryId, deliveries, "The payload is not valid JSON for " + typeof(T).Name + ": " + ex.Message).ConfigureAwait(false);
                return;
            }

            var parent = TraceParent.Parse((string?)RedisStreamFields.Get(entry, RedisStreamFields.TraceParent), (string?)RedisStreamFields.Get(entry, RedisStreamFields.TraceState));
            span = Telemetry.StartSpan(ItemSpan, Name, parent, ActivityKind.Consumer);
            span?.SetTag("parallelexec.queue.item.id", id);
            await _handler(new RedisWorkItem<T>(id, entryId, deliveries, message), cancellationToken).ConfigureAwait(false);
            await CallAsync(db => AcknowledgeAsync(db, entry.Id)).ConfigureAwait(false);
            outcome = ItemOutcome.Succeeded;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cut by the drain timeout: the entry stays pending and another consumer takes it over.
            outcome = ItemOutcome.Cancelled;
        }
        catch (Exception ex)
        {
            // Not acknowledged: delivered again after the claim idle time, or dead-lettered after MaxDeliveries.
            _reporter.Failed(ex, id, _stream.ToString(), span);
        }
        finally
        {
            span?.SetTag(TelemetryTagNames.Outcome, outcome == ItemOutcome.Succeeded ? Telemetry.Succeeded : outcome == ItemOutcome.Failed ? Telemetry.Failed : Telemetry.Cancelled);
            span?.Dispose();
            lock (_lock)
            {
                _ledger.End(outcome);
            }

            _running.TryRemove(entryId, out _);
            _slots.Release();
        }
    }

    /// <summary>Acknowledges and deletes a finished entry in one round trip: the stream holds only work not yet done.</summary>
    private async Task<long> AcknowledgeAsync(IDatabase db, RedisValue entryId)
    {
        var acknowledged = db.StreamAcknowledgeAsync(_stream, _options.GroupName, entryId);
        var deleted = db.StreamDeleteAsync(_stream, [entryId]);
        await deleted.ConfigureAwait(false);
        return await acknowledged.ConfigureAwait(false);
    }

    private async Task DeadLetterAsync(StreamEntry entry, string entryId, long deliveries, string reason)
    {
        await CallAsync(async db =>
        {
            var transaction = db.CreateTransaction();
            var fields = entry.Values.Where(v => v.Name != RedisStreamFields.Error).Append(new NameValueEntry(RedisStreamFields.Error, reason))
                .Append(new NameValueEntry(RedisStreamFields.Deliveries, deliveries)).Append(new NameValueEntry(RedisStreamFields.SourceEntry, entryId)).ToArray();
            var added = transaction.StreamAddAsync(_deadLetters, fields);
            var acknowledged = transaction.StreamAcknowledgeAsync(_stream, _options.GroupName, entry.Id);
            var deleted = transaction.StreamDeleteAsync(_stream, [entry.Id]);
            await transaction.ExecuteAsync().ConfigureAwait(false);
            await Task.WhenAll(added, acknowledged, deleted).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
        Interlocked.Increment(ref _deadLettered);
        throw new RedisDeadLetterException(_stream.ToString(), entryId, reason);
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, _options.TimeProvider, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Orders stream ids (<c>ms-seq</c>) numerically.</summary>
    private sealed class StreamIdComparer : IComparer<string>
    {
        public static readonly StreamIdComparer Instance = new();

        public int Compare(string? x, string? y) => Parse(x).CompareTo(Parse(y));

        private static (long, long) Parse(string? id)
        {
            var dash = id!.IndexOf('-', StringComparison.Ordinal);
            return (long.Parse(id.AsSpan(0, dash), System.Globalization.CultureInfo.InvariantCulture), long.Parse(id.AsSpan(dash + 1), System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
