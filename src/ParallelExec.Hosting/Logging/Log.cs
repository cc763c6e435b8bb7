using Microsoft.Extensions.Logging;

namespace ParallelExec.Hosting.Logging;

/// <summary>
/// Every log event of the hosting layer, source-generated. Event ids are stable (documented in docs/hosting.md): a
/// dashboard or an alert may filter on them. Every event carries the component kind and its name as structured fields.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "ComponentCreated", Level = LogLevel.Debug,
        Message = "{Component} '{Name}' created from configuration section '{Section}'")]
    public static partial void ComponentCreated(ILogger logger, string component, string name, string section);

    [LoggerMessage(EventId = 2, EventName = "ItemDropped", Level = LogLevel.Warning,
        Message = "{Component} '{Name}' dropped an item ({Reason}), key {Key}")]
    public static partial void ItemDropped(ILogger logger, string component, string name, DropReason reason, object? key);

    [LoggerMessage(EventId = 3, EventName = "ItemFailed", Level = LogLevel.Error,
        Message = "{Component} '{Name}': a fire-and-forget item failed, key {Key}")]
    public static partial void ItemFailed(ILogger logger, Exception exception, string component, string name, object? key);

    [LoggerMessage(EventId = 4, EventName = "CallbackFailed", Level = LogLevel.Error,
        Message = "{Component} '{Name}': the {Callback} callback threw; the component went on")]
    public static partial void CallbackFailed(ILogger logger, Exception exception, string component, string name, string callback);

    [LoggerMessage(EventId = 5, EventName = "MessageDeadLettered", Level = LogLevel.Warning,
        Message = "{Component} '{Name}': message {MessageId} on topic '{Topic}' dead-lettered ({Reason}), subscription {Subscription}")]
    public static partial void MessageDeadLettered(ILogger logger, Exception? exception, string component, string name, long messageId, string topic, Coordination.DeadLetterReason reason, string? subscription);

    [LoggerMessage(EventId = 10, EventName = "StopStarted", Level = LogLevel.Information,
        Message = "Stopping {Count} ParallelExec components: intake stops, accepted work drains for at most {DrainWindow}")]
    public static partial void StopStarted(ILogger logger, int count, TimeSpan drainWindow);

    [LoggerMessage(EventId = 11, EventName = "ComponentDrained", Level = LogLevel.Information,
        Message = "{Component} '{Name}' drained: {Ledger}")]
    public static partial void ComponentDrained(ILogger logger, string component, string name, LedgerSnapshot ledger);

    [LoggerMessage(EventId = 12, EventName = "DrainTimeoutReached", Level = LogLevel.Warning,
        Message = "{Component} '{Name}': its DrainTimeout {DrainTimeout} passed with {Queued} queued and {InFlight} running; cancelling them")]
    public static partial void DrainTimeoutReached(ILogger logger, string component, string name, TimeSpan drainTimeout, long queued, long inFlight);

    [LoggerMessage(EventId = 13, EventName = "ShutdownDeadlineReached", Level = LogLevel.Warning,
        Message = "{Component} '{Name}': the host's shutdown deadline came with {Queued} queued and {InFlight} running; cancelling them")]
    public static partial void ShutdownDeadlineReached(ILogger logger, string component, string name, long queued, long inFlight);

    [LoggerMessage(EventId = 14, EventName = "StopFailed", Level = LogLevel.Error,
        Message = "{Component} '{Name}' failed to stop")]
    public static partial void StopFailed(ILogger logger, Exception exception, string component, string name);

    [LoggerMessage(EventId = 15, EventName = "StopAbandoned", Level = LogLevel.Warning,
        Message = "The host stopped waiting for {Count} ParallelExec components whose cancelled work had not yet ended")]
    public static partial void StopAbandoned(ILogger logger, int count);
}
