using System.Diagnostics.Metrics;

namespace ParallelExec.Internal;

/// <summary>
/// The live instances an observable instrument reads, held weakly so an undisposed component can still be collected.
/// The one gauge registry of the library.
/// </summary>
/// <remarks>
/// <b>Locking.</b> The registry's own lock guards only its list and is a leaf: it is never held while a source is read
/// (the sources are copied out first), so reading a component's statistics under the component's lock cannot nest
/// inside it. Components add and remove themselves outside their own lock.
/// </remarks>
/// <typeparam name="TSource">What the instruments read.</typeparam>
internal sealed class GaugeRegistry<TSource>
    where TSource : class
{
    private readonly List<WeakReference<TSource>> _sources = [];

    /// <summary>Adds a live instance.</summary>
    /// <param name="source">The instance.</param>
    public void Add(TSource source)
    {
        lock (_sources)
        {
            _sources.Add(new WeakReference<TSource>(source));
        }
    }

    /// <summary>Removes an instance (at disposal), and every collected one with it.</summary>
    /// <param name="source">The instance.</param>
    public void Remove(TSource source)
    {
        lock (_sources)
        {
            _sources.RemoveAll(reference => !reference.TryGetTarget(out var target) || ReferenceEquals(target, source));
        }
    }

    /// <summary>Reads one value from every live instance, tagged with that instance's name.</summary>
    /// <param name="read">Reads the value; runs outside the registry's lock.</param>
    /// <param name="tag">The instance's name tag.</param>
    /// <returns>One measurement per live instance.</returns>
    public IEnumerable<Measurement<long>> Observe(Func<TSource, long> read, Func<TSource, KeyValuePair<string, object?>> tag)
    {
        List<TSource> live;
        lock (_sources)
        {
            _sources.RemoveAll(static reference => !reference.TryGetTarget(out _));
            live = new List<TSource>(_sources.Count);
            foreach (var reference in _sources)
            {
                if (reference.TryGetTarget(out var source))
                {
                    live.Add(source);
                }
            }
        }

        var measurements = new Measurement<long>[live.Count];
        for (var i = 0; i < live.Count; i++)
        {
            measurements[i] = new Measurement<long>(read(live[i]), tag(live[i]));
        }

        return measurements;
    }
}
