namespace ParallelExec.Memory;

/// <summary>Options of <see cref="InMemoryStore"/>; validated and copied when the store is created.</summary>
public sealed class InMemoryStoreOptions
{
    /// <summary>Gets or sets the clock that decides when entries with a time to live expire.</summary>
    /// <value>The default is <see cref="TimeProvider.System"/>; must not be <see langword="null"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
