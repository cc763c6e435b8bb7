namespace WebIngest;

/// <summary>A document as a client posts it.</summary>
/// <param name="Id">The client's id for it; posting the same id again replaces the stored text.</param>
/// <param name="Text">Its text.</param>
public sealed record Document(string Id, string Text);

/// <summary>What the bus announces once a document is stored.</summary>
/// <param name="Id">The document's id.</param>
/// <param name="Words">How many words it has.</param>
public sealed record DocumentStored(string Id, int Words);
