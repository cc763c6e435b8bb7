using System.Diagnostics;

namespace ParallelExec.Internal;

/// <summary>
/// The one place a component reports an item that did not succeed: its drop or error callback, its counters, and an
/// event on the current span. Everything a user can observe per item about a drop or a fire-and-forget failure goes
/// through here.
/// </summary>
/// <remarks>
/// <b>Locking.</b> Call it after releasing the component's lock: it runs user callbacks. A callback that throws does not
/// reach the component's own work (a worker, a timer, a disposer): its exception is recorded on the current span and
/// counted as a failure of the reporter, so nothing is lost into an unobserved task.
/// </remarks>
internal sealed class ItemReporter
{
    private readonly Action<DroppedItem>? _onDropped;
    private readonly Action<FailedItem>? _onError;
    private readonly TimeProvider _timeProvider;
    private readonly ComponentInstruments _instruments;

    // A second tag on the counters (the pipeline's stage tag), or null: most components tag by name only.
    private readonly KeyValuePair<string, object?>? _scopeTag;

    /// <summary>Creates the reporter of one component instance.</summary>
    /// <param name="name">The component's name.</param>
    /// <param name="timeProvider">The component's clock, for the payloads' timestamps.</param>
    /// <param name="instruments">The component kind's instruments.</param>
    /// <param name="onDropped">The user's drop callback, if any.</param>
    /// <param name="onError">The user's error callback, if any.</param>
    /// <param name="scopeTag">A second tag on the counters and the drop event (a pipeline's stage), or <see langword="null"/>.</param>
    public ItemReporter(string name, TimeProvider timeProvider, ComponentInstruments instruments, Action<DroppedItem>? onDropped, Action<FailedItem>? onError,
        KeyValuePair<string, object?>? scopeTag = null)
    {
        _scopeTag = scopeTag;
        Name = name;
        NameTag = new KeyValuePair<string, object?>(TelemetryTagNames.Name, name);
        _timeProvider = timeProvider;
        _instruments = instruments;
        _onDropped = onDropped;
        _onError = onError;
    }

    /// <summary>Gets the component's name.</summary>
    public string Name { get; }

    /// <summary>Gets the <see cref="TelemetryTagNames.Name"/> tag, created once.</summary>
    public KeyValuePair<string, object?> NameTag { get; }

    /// <summary>Gets the component kind's instruments.</summary>
    public ComponentInstruments Instruments => _instruments;

    /// <summary>Gets whether the user set an error callback (a failure without one is recorded on the span only).</summary>
    public bool HasErrorCallback => _onError is not null;

    /// <summary>Counts a submission.</summary>
    public void Submitted()
    {
        if (_scopeTag is { } scope)
        {
            _instruments.Submitted.Add(1, NameTag, scope);
        }
        else
        {
            _instruments.Submitted.Add(1, NameTag);
        }
    }

    /// <summary>Reports one item that did not run to an outcome of its own.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="item">The item as the user handed it over.</param>
    /// <param name="key">Its key, where the component has one.</param>
    public void Dropped(DropReason reason, object? item, object? key = null)
    {
        var reasonTag = ComponentInstruments.ReasonTag(reason);
        var reasonKeyValue = new KeyValuePair<string, object?>(TelemetryTagNames.DropReason, reasonTag);
        if (_scopeTag is { } scope)
        {
            _instruments.Dropped.Add(1, NameTag, reasonKeyValue, scope);
        }
        else
        {
            _instruments.Dropped.Add(1, NameTag, reasonKeyValue);
        }

        if (Activity.Current is { } current)
        {
            var tags = new ActivityTagsCollection
            {
                [TelemetryTagNames.Name] = Name,
                [TelemetryTagNames.DropReason] = reasonTag,
            };
            if (_scopeTag is { } eventScope)
            {
                tags[eventScope.Key] = eventScope.Value;
            }

            current.AddEvent(new ActivityEvent("parallelexec.item.dropped", tags: tags));
        }
        if (_onDropped is { } onDropped)
        {
            Invoke(onDropped, new DroppedItem(Name, reason, item, key, _timeProvider.GetUtcNow()));
        }
    }

    /// <summary>Reports a fire-and-forget item whose work threw.</summary>
    /// <param name="exception">What it threw.</param>
    /// <param name="item">The item as the user handed it over.</param>
    /// <param name="key">Its key, where the component has one.</param>
    /// <param name="span">The item's span, if one was started; otherwise the current span gets the event.</param>
    public void Failed(Exception exception, object? item, object? key = null, Activity? span = null)
    {
        CountFailure();
        Telemetry.RecordFailure(span ?? Activity.Current, exception);
        if (_onError is { } onError)
        {
            Invoke(onError, new FailedItem(Name, exception, item, key, _timeProvider.GetUtcNow()));
        }
    }

    /// <summary>Counts an awaited failure (its caller gets the exception) without calling the error callback.</summary>
    public void CountFailure()
    {
        if (_scopeTag is { } scope)
        {
            _instruments.Failed.Add(1, NameTag, scope);
        }
        else
        {
            _instruments.Failed.Add(1, NameTag);
        }
    }

    private static void Invoke<T>(Action<T> callback, T payload)
    {
        try
        {
            callback(payload);
        }
        catch (Exception exception)
        {
            // A throwing callback must not take down the worker, timer or disposer that reported the item.
            Telemetry.RecordFailure(Activity.Current, exception);
        }
    }
}
