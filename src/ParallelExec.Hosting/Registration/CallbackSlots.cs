using ParallelExec.Coordination;
using ParallelExec.Hosting.Logging;

namespace ParallelExec.Hosting.Registration;

/// <summary>
/// Where one options type keeps its callbacks and its queue capacity: the options types share a base class but each
/// declares the callbacks it offers, so each registration says which it has.
/// </summary>
internal sealed class CallbackSlots<TOptions>
    where TOptions : ComponentOptions
{
    public (Func<TOptions, Action<DroppedItem>?> Get, Action<TOptions, Action<DroppedItem>> Set)? Dropped { get; init; }

    public (Func<TOptions, Action<FailedItem>?> Get, Action<TOptions, Action<FailedItem>> Set)? Failed { get; init; }

    public (Func<TOptions, Action<DeadLetter>?> Get, Action<TOptions, Action<DeadLetter>> Set)? DeadLettered { get; init; }

    public Func<TOptions, int>? QueueCapacity { get; init; }

    public void Install(TOptions options, ComponentLog log)
    {
        if (Dropped is { } dropped)
        {
            dropped.Set(options, log.Dropped(dropped.Get(options)));
        }

        if (Failed is { } failed)
        {
            failed.Set(options, log.Failed(failed.Get(options)));
        }

        if (DeadLettered is { } deadLettered)
        {
            deadLettered.Set(options, log.DeadLettered(deadLettered.Get(options)));
        }
    }
}
