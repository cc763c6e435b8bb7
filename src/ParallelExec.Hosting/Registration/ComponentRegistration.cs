namespace ParallelExec.Hosting.Registration;

/// <summary>
/// One component registered with the hosting layer: its kind, its name (<see langword="null"/> for the unnamed
/// default), the configuration section it binds, and how the runtime builds it.
/// </summary>
internal sealed class ComponentRegistration(string kind, string? name, Type serviceType, Func<IServiceProvider, ComponentRegistration, HostedComponent> create)
{
    /// <summary>The section name of the unnamed default: <c>ParallelExec:&lt;Kind&gt;:Default</c>.</summary>
    public const string DefaultSectionName = "Default";

    public string Kind { get; } = kind;

    public string? Name { get; } = name;

    public Type ServiceType { get; } = serviceType;

    /// <summary>Gets or sets how the runtime builds the component (a memory store's <c>WithBatching</c> replaces it).</summary>
    public Func<IServiceProvider, ComponentRegistration, HostedComponent> Create { get; set; } = create;

    public string SectionPath => $"ParallelExec:{Kind}:{Name ?? DefaultSectionName}";

    public override string ToString() => Name is null ? $"{Kind} (default)" : $"{Kind} '{Name}'";
}
