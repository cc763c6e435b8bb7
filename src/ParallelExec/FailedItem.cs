namespace ParallelExec;

/// <summary>
/// What a component tells its <c>OnError</c> callback about a fire-and-forget item whose work threw: the one error
/// payload of every component.
/// </summary>
/// <remarks>
/// An awaited item's exception goes to its caller instead. A fire-and-forget failure with no <c>OnError</c> callback
/// set is recorded on the item's trace span (status error and an <c>exception</c> event) and counted in
/// <c>parallelexec.&lt;component&gt;.items.failed</c>. The callback runs after the component has released its lock and
/// must not throw.
/// </remarks>
public readonly struct FailedItem
{
    /// <summary>Creates the payload.</summary>
    /// <param name="component">The <c>Name</c> of the component whose item failed.</param>
    /// <param name="exception">What the item's work threw.</param>
    /// <param name="item">The item as the user handed it over.</param>
    /// <param name="key">The item's ordering, affinity or provider key where the component has one; otherwise <see langword="null"/>.</param>
    /// <param name="timestamp">When the item failed, read from the component's <see cref="TimeProvider"/>.</param>
    public FailedItem(string component, Exception exception, object? item, object? key, DateTimeOffset timestamp)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Component = component;
        Exception = exception;
        Item = item;
        Key = key;
        Timestamp = timestamp;
    }

    /// <summary>Gets the <c>Name</c> of the component whose item failed.</summary>
    public string Component { get; }

    /// <summary>Gets what the item's work threw.</summary>
    public Exception Exception { get; }

    /// <summary>Gets the item as the user handed it over: a work delegate, a batch item, a bus message.</summary>
    public object? Item { get; }

    /// <summary>Gets the item's ordering, affinity or provider key where the component has one; otherwise <see langword="null"/>.</summary>
    public object? Key { get; }

    /// <summary>Gets when the item failed, read from the component's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Component}: item failed ({Exception.GetType().Name}: {Exception.Message})";
}
