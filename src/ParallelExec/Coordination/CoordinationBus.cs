using System.Diagnostics;
using System.Threading.Channels;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>
/// An in-process, asynchronous publish/subscribe bus for coordinating agents and tasks by events instead of waiting
/// for each other step by step: typed messages on dot-separated topics, wildcard subscriptions, a bounded mailbox per
/// subscriber, request/reply and scatter-gather with timeouts, dead letters, barriers and waits.
/// </summary>
/// <remarks>
/// <para>
/// Topics are dot-separated segments (<c>agents.coder.done</c>). Subscriptions take a <see cref="TopicPattern"/>:
/// <c>*</c> matches exactly one segment (<c>agents.*.done</c>), <c>&gt;</c> as the last segment matches one or more
/// segments (<c>agents.&gt;</c>). A message reaches a subscription when the pattern matches its topic and the message is of
/// the subscription's type (or derives from it).
/// </para>
/// <para>
/// Publishing routes through a per-topic cache of matching subscribers (rebuilt when subscriptions change, copy on
/// write, so publishing takes no lock) and offers the message to each subscriber's bounded mailbox
/// (<see cref="CoordinationBusOptions.QueueCapacity"/>). A subscriber's full mailbox only affects that subscriber,
/// according to its <see cref="QueueFullMode"/>. An item of the bus's ledger is one delivery: a message offered to one
/// subscriber.
/// </para>
/// <para>
/// Subscribing, unsubscribing and publishing from inside a handler are safe. <see cref="Complete"/> stops publishing
/// and lets every mailbox drain (<see cref="Completion"/>). Disposing the bus stops intake, lets every handler drain its
/// mailbox (up to <see cref="ComponentOptions.DrainTimeout"/>, then cancels the handlers and drops the rest with
/// <see cref="DropReason.DrainTimeout"/>), then fails pending requests, barrier waits and
/// <see cref="WaitForAsync{T}(string, Func{T, bool}?, TimeSpan, CancellationToken)"/> calls with
/// <see cref="ObjectDisposedException"/>.
/// </para>
/// <para>
/// Telemetry: the <c>parallelexec.bus.*</c> instruments, and the spans <c>parallelexec.bus.publish</c> and
/// <c>parallelexec.bus.deliver</c> (a child of the publish: the publisher's context travels with the message), both
/// tagged with <see cref="TelemetryTagNames.Topic"/>.
/// </para>
/// </remarks>
[DebuggerDisplay("{Name,nq}: {SubscriptionCount} subscriptions")]
public sealed partial class CoordinationBus : IExecComponent, IInstrumentedComponent
{
    // Locking. _registryLock guards _lifecycle, the writes of _routing (publishers read it lock-free: it is an immutable
    // snapshot replaced as a whole), _draining, _selfDisposers and _selfDisposersChanged. _statisticsLock guards _counted
    // and _retired; it is taken alone or inside _registryLock, and a subscription's counter lock is taken only inside it
    // (or alone), never the other way round. No user code (handlers, OnDropped, OnError, OnDeadLetter) runs under any of
    // them: handlers run on the subscriptions' loops, and the callbacks on the thread that published, handled or
    // disposed, after the lock is released.
    private readonly object _registryLock = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly Channel<DeadLetter> _deadLetters;
    private readonly CancellationTokenSource _disposed = new();
    private RoutingTable _routing = new([]);

    // The subscriptions taken out of the routing table when intake stopped (Complete or DisposeAsync); null before.
    private Subscription[]? _draining;

    // Self-disposal (DisposeAsync called from a handler of this bus): the subscriptions whose handlers called
    // DisposeAsync, and a signal replaced each time that set grows.
    private HashSet<Subscription>? _selfDisposers;
    private TaskCompletionSource? _selfDisposersChanged;

    // Every publish (plain, request, scatter-gather) takes exactly one id, so the last id is also the published count:
    // one interlocked operation per publish instead of two. Padded: handler loops read the bus's other fields (options,
    // telemetry) on every message, and a publish must not invalidate their line.
    private PaddedCounter _nextMessageId;
    private long _nextSubscriptionNumber;

    // Subscriptions count their deliveries themselves (no shared counter on the hot path); the bus sums the live ones
    // and keeps the totals of those that finished draining.
    private readonly object _statisticsLock = new();
    private readonly HashSet<Subscription> _counted = [];
    private readonly ItemLedger _retired = new();
    private long _deadLettered;
    private long _deadLettersLost;

    /// <summary>Creates a bus.</summary>
    /// <param name="options">The options; validated and copied. Null for the defaults.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    public CoordinationBus(CoordinationBusOptions? options = null)
    {
        Options = (options ?? new CoordinationBusOptions()).ValidatedCopy();
        Telemetry = new BusTelemetry(Options);
        PendingRequests = new PendingRequests(Options.TimeProvider);
        _deadLetters = Channel.CreateBounded<DeadLetter>(
            new BoundedChannelOptions(Options.DeadLetterCapacity) { FullMode = BoundedChannelFullMode.DropOldest, AllowSynchronousContinuations = false },
            _ => Interlocked.Increment(ref _deadLettersLost));
        Telemetry.Instruments.Live.Add(this);
    }

    /// <summary>Gets the name of the bus (<see cref="ComponentOptions.Name"/>).</summary>
    public string Name => Options.Name;

    /// <summary>Gets how many subscriptions are active.</summary>
    public int SubscriptionCount => Volatile.Read(ref _routing).All.Length;

    /// <summary>Gets a task that completes when publishing has stopped (<see cref="Complete"/> or
    /// <see cref="DisposeAsync"/>) and every handler subscription has drained its mailbox; after a disposal, once the
    /// disposal has ended.</summary>
    public Task Completion => _lifecycle.Completion;

    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => Telemetry.NameTag;

    internal CoordinationBusOptions Options { get; }

    internal BusTelemetry Telemetry { get; }

    internal CancellationToken DisposedToken => _disposed.Token;

    /// <summary>Gets the requests waiting for a reply: their timeouts, and their failure when the bus is disposed.</summary>
    internal PendingRequests PendingRequests { get; }

    /// <summary>Stops publishing: later publishes, requests and subscriptions throw <see cref="InvalidOperationException"/>;
    /// every subscription stops taking messages and its handler drains what is queued (<see cref="Completion"/>).
    /// Pending requests, waits and barriers keep going until <see cref="DisposeAsync"/>. Idempotent.</summary>
    public void Complete()
    {
        Subscription[]? all;
        lock (_registryLock)
        {
            all = _lifecycle.TryStopIntake() ? StopIntakeLocked() : null;
            AssertInvariants();
        }

        if (all is not null)
        {
            // Cannot fault: it awaits the subscriptions' Completion tasks, which only ever complete successfully.
            _ = SetCompletedWhenDrainedAsync(CloseAndDrain(all));
        }
    }

    /// <summary>Takes a snapshot of the bus's counters. Cheap: a short lock (no user code), a sum over the subscriptions.</summary>
    /// <returns>The snapshot.</returns>
    public CoordinationBusStatistics GetStatistics() =>
        new(Name, ReadLedger(), Interlocked.Read(ref _nextMessageId.Value), SubscriptionCount, Interlocked.Read(ref _deadLettered), Interlocked.Read(ref _deadLettersLost));

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    public override string ToString() => $"CoordinationBus {Name}";

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger() => ReadLedger();

    /// <summary>Sums the deliveries of the live subscriptions and the retired totals.</summary>
    internal LedgerSnapshot ReadLedger()
    {
        lock (_statisticsLock)
        {
            var total = _retired.Snapshot();
            foreach (var subscription in _counted)
            {
                total = Add(total, subscription.ReadLedger());
            }

            return total;
        }
    }

    /// <summary>Moves a drained subscription's totals into the bus's retired totals, once.</summary>
    internal void Retire(Subscription subscription)
    {
        lock (_statisticsLock)
        {
            if (_counted.Remove(subscription))
            {
                // Everything it took has ended, so its part of Submitted is what ended; an end that comes later (a
                // publisher or stream reader still finishing) arrives through AddRetired.
                var final = subscription.RetireCounters();
                AddRetiredLocked(final with { Submitted = final.Ended, InFlight = 0, Queued = 0 });
            }
        }
    }

    /// <summary>Counts an end of a retired subscription's delivery.</summary>
    internal void AddRetired(LedgerSnapshot ended)
    {
        lock (_statisticsLock)
        {
            AddRetiredLocked(ended);
        }
    }

    private void AddRetiredLocked(LedgerSnapshot ended)
    {
        _retired.Submitted += ended.Submitted;
        _retired.Succeeded += ended.Succeeded;
        _retired.Failed += ended.Failed;
        _retired.Cancelled += ended.Cancelled;
        _retired.Dropped += ended.Dropped;
        _retired.Rejected += ended.Rejected;
        _retired.AssertBalanced();
    }

    private static LedgerSnapshot Add(LedgerSnapshot a, LedgerSnapshot b) => new()
    {
        Submitted = a.Submitted + b.Submitted,
        Succeeded = a.Succeeded + b.Succeeded,
        Failed = a.Failed + b.Failed,
        Cancelled = a.Cancelled + b.Cancelled,
        Dropped = a.Dropped + b.Dropped,
        Rejected = a.Rejected + b.Rejected,
        InFlight = a.InFlight + b.InFlight,
        Queued = a.Queued + b.Queued,
    };

    /// <summary>Checks the registry's state; call under <see cref="_registryLock"/> where it changes.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(Monitor.IsEntered(_registryLock), "AssertInvariants runs under the registry lock.");
        Debug.Assert(_lifecycle.IsOpen == (_draining is null), "Intake stops exactly when the routing table is emptied.");
        Debug.Assert(_lifecycle.IsOpen || _routing.All.Length == 0, "A bus that stopped intake routes to nobody.");
        Debug.Assert(_selfDisposers is null || _lifecycle.IsDisposing, "Only a disposal has self-disposers.");
    }
}
