using System.Text;
using ParallelExec.Memory;

namespace WebIngest;

/// <summary>Writes documents to the memory store: the batch processor hands it a whole batch, stored in one transaction.</summary>
public sealed class DocumentStore(IMemoryStore store)
{
    /// <summary>The store's namespace for documents.</summary>
    public const string Namespace = "documents";

    /// <summary>Stores a batch of documents: one bulk call (one SQLite transaction) for the whole batch.</summary>
    /// <param name="documents">The batch.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>One result per document, in order: <see langword="true"/> once stored.</returns>
    public async ValueTask<IReadOnlyList<bool>> WriteAsync(IReadOnlyList<Document> documents, CancellationToken cancellationToken)
    {
        var entries = new List<KeyValuePair<string, ReadOnlyMemory<byte>>>(documents.Count);
        foreach (var document in documents)
        {
            entries.Add(new(document.Id, Encoding.UTF8.GetBytes(document.Text)));
        }

        await store.SetManyAsync(Namespace, entries, cancellationToken: cancellationToken);
        return [.. documents.Select(_ => true)];
    }

    /// <summary>Reads a stored document's text.</summary>
    /// <param name="id">The document's id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text, or <see langword="null"/> when no such document is stored.</returns>
    public async ValueTask<string?> ReadAsync(string id, CancellationToken cancellationToken) =>
        await store.GetAsync(Namespace, id, cancellationToken) is { } bytes ? Encoding.UTF8.GetString(bytes.Span) : null;
}
