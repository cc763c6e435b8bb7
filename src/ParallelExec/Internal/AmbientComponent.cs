namespace ParallelExec.Internal;

/// <summary>
/// Which component of type <typeparamref name="TComponent"/> the current async flow runs work for: the one way to detect
/// a call that comes from inside a component's own work (a nested submission that must not wait for a worker it holds,
/// or a <c>DisposeAsync</c> that must not wait for the very item that called it).
/// </summary>
/// <remarks>
/// Set once per worker loop or per admitted call, not per item where avoidable: changing an <see cref="AsyncLocal{T}"/>
/// allocates. The value flows into everything the work awaits, so detection holds across awaits and nested calls.
/// </remarks>
/// <typeparam name="TComponent">The component type; each type has its own slot.</typeparam>
internal static class AmbientComponent<TComponent>
    where TComponent : class
{
    private static readonly AsyncLocal<TComponent?> s_current = new();

    /// <summary>Gets or sets the component the current flow runs work for.</summary>
    public static TComponent? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>Gets whether the current flow runs work for <paramref name="component"/>.</summary>
    /// <param name="component">The component.</param>
    /// <returns><see langword="true"/> when the call comes from inside the component's own work.</returns>
    public static bool IsInside(TComponent component) => ReferenceEquals(s_current.Value, component);
}
