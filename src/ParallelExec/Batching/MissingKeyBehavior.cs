namespace ParallelExec.Batching;

/// <summary>
/// What an item gets when a by-key bulk handler returns a dictionary without that item's key.
/// </summary>
public enum MissingKeyBehavior
{
    /// <summary>The item's caller gets a <see cref="KeyNotFoundException"/>; the other items of the batch are unaffected.</summary>
    Throw = 0,

    /// <summary>The item's caller gets <c>default(TResult)</c> (for example <see langword="null"/> for a reference type).</summary>
    ReturnDefault = 1,
}
