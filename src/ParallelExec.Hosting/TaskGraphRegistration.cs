using ParallelExec.Hosting.Registration;
using ParallelExec.Scheduling;

namespace ParallelExec.Hosting;

/// <summary>Registers task graph defaults with the host.</summary>
public static class TaskGraphRegistration
{
    /// <summary>
    /// Registers a <see cref="TaskGraphFactory"/>, unkeyed or keyed by <paramref name="name"/>, whose graphs take the
    /// defaults configured here and in <c>ParallelExec:TaskGraph:&lt;name&gt;</c> (<c>MaxDegreeOfParallelism</c>,
    /// <c>FailurePolicy</c>), validated at start-up, with the host's clock and meter factory.
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The defaults' name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Sets the defaults on the options; <see langword="null"/> keeps the library's.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or defaults of that name are already registered.</exception>
    public static IParallelExecBuilder AddTaskGraph(this IParallelExecBuilder builder, string? name = null, Action<TaskGraphOptions>? configure = null)
    {
        RegistrationHelper.Add<TaskGraphFactory>(builder, "TaskGraph", name, (services, registration) =>
        {
            var (options, log) = ComponentFactory.Prepare<TaskGraphBuilder, TaskGraphOptions, TaskGraph>(
                services, registration, Exec.Graph(), configure is null ? null : (_, b) => b.Configure(configure), new CallbackSlots<TaskGraphOptions>());
            return new HostedComponent(registration, new TaskGraphFactory(options), options, log);
        });
        return builder;
    }
}
