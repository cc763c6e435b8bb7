using ParallelExec.Files;
using ParallelExec.Hosting.Registration;

namespace ParallelExec.Hosting;

/// <summary>Registers <see cref="ParallelFiles"/> with the host.</summary>
public static class ParallelFilesRegistration
{
    /// <summary>
    /// Registers a parallel file runner, unkeyed or keyed by <paramref name="name"/>, bound from
    /// <c>ParallelExec:ParallelFiles:&lt;name&gt;</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The runner's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a runner of that name is already registered.</exception>
    public static IParallelExecBuilder AddParallelFiles(this IParallelExecBuilder builder, string? name = null, Action<ParallelFilesBuilder>? configure = null)
    {
        RegistrationHelper.Add<ParallelFiles>(builder, "ParallelFiles", name, (services, registration) =>
            ComponentFactory.Build<ParallelFilesBuilder, ParallelFilesOptions, ParallelFiles>(
                services, registration, Exec.Files(), configure is null ? null : (_, b) => configure(b), Slots));
        return builder;
    }

    private static readonly CallbackSlots<ParallelFilesOptions> Slots = new();
}
