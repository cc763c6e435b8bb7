namespace ParallelExec;

/// <summary>
/// What a component tells its <c>OnDropped</c> callback about an item that did not run to an outcome of its own: the one
/// drop payload of every component.
/// </summary>
/// <remarks>
/// The callback runs after the component has released its lock, on the thread that dropped the item (a submitter, a
/// worker, a timer or the disposer); it must be quick and must not throw (an exception it throws is caught and recorded
/// on the current trace span, never lost into the component's own work).
/// </remarks>
public readonly struct DroppedItem
{
    /// <summary>Creates the payload.</summary>
    /// <param name="component">The <c>Name</c> of the component that dropped the item.</param>
    /// <param name="reason">Why the item did not run.</param>
    /// <param name="item">The item as the user handed it over (a work delegate, a batch item, a message, a request).</param>
    /// <param name="key">The item's ordering, affinity or provider key where the component has one; otherwise <see langword="null"/>.</param>
    /// <param name="timestamp">When the item was dropped, read from the component's <see cref="TimeProvider"/>.</param>
    public DroppedItem(string component, DropReason reason, object? item, object? key, DateTimeOffset timestamp)
    {
        Component = component;
        Reason = reason;
        Item = item;
        Key = key;
        Timestamp = timestamp;
    }

    /// <summary>Gets the <c>Name</c> of the component that dropped the item.</summary>
    public string Component { get; }

    /// <summary>Gets why the item did not run.</summary>
    public DropReason Reason { get; }

    /// <summary>Gets the item as the user handed it over: a work delegate, a batch item, a bus message, an agent request.</summary>
    public object? Item { get; }

    /// <summary>Gets the item's ordering, affinity or provider key where the component has one; otherwise <see langword="null"/>.</summary>
    public object? Key { get; }

    /// <summary>Gets when the item was dropped, read from the component's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Component}: item dropped ({Reason})";
}
