using ParallelExec.Coordination;

namespace WebIngest;

/// <summary>Counts what the bus announced: a subscriber of the <c>documents.stored</c> topic.</summary>
public sealed class IngestStatistics
{
    private long _stored;
    private long _words;

    /// <summary>Subscribes to the bus's <c>documents.stored</c> topic.</summary>
    /// <param name="bus">The bus.</param>
    public IngestStatistics(CoordinationBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        bus.Subscribe<DocumentStored>("documents.stored", message =>
        {
            Interlocked.Increment(ref _stored);
            Interlocked.Add(ref _words, message.Message.Words);
        });
    }

    /// <summary>Gets how many documents were stored.</summary>
    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>Gets how many words they had in all.</summary>
    public long Words => Interlocked.Read(ref _words);
}
