using Microsoft.Extensions.Logging;
using ParallelExec.Coordination;

namespace ParallelExec.Hosting.Logging;

/// <summary>
/// The logger of one hosted component: the callbacks the hosting layer installs on the component's options log each
/// drop, failure and dead letter, then call the user's own callback. A user callback that throws is logged here
/// (<c>CallbackFailed</c>) instead of reaching the library, which would otherwise only record it on a span.
/// </summary>
internal sealed class ComponentLog(ILogger logger, string component, string name)
{
    public ILogger Logger { get; } = logger;

    public string Component { get; } = component;

    public string Name { get; } = name;

    public Action<DroppedItem> Dropped(Action<DroppedItem>? user) => item =>
    {
        Log.ItemDropped(Logger, Component, Name, item.Reason, item.Key);
        Call(user, item, "OnDropped");
    };

    public Action<FailedItem> Failed(Action<FailedItem>? user) => item =>
    {
        Log.ItemFailed(Logger, item.Exception, Component, Name, item.Key);
        Call(user, item, "OnError");
    };

    public Action<DeadLetter> DeadLettered(Action<DeadLetter>? user) => letter =>
    {
        Log.MessageDeadLettered(Logger, letter.Exception, Component, Name, letter.MessageId, letter.Topic, letter.Reason, letter.SubscriptionName);
        Call(user, letter, "OnDeadLetter");
    };

    private void Call<T>(Action<T>? user, T payload, string callback)
    {
        if (user is null)
        {
            return;
        }

        try
        {
            user(payload);
        }
        catch (Exception exception)
        {
            // The library would swallow it (recording it on a span at best): the log is where an operator sees it.
            Log.CallbackFailed(Logger, exception, Component, Name, callback);
        }
    }
}
