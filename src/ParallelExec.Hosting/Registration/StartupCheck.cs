using Microsoft.Extensions.Options;

namespace ParallelExec.Hosting.Registration;

/// <summary>
/// The options type whose <c>ValidateOnStart</c> builds every registered component when the host starts, so an invalid
/// option stops the start with the library's own message instead of failing the first request.
/// </summary>
internal sealed class StartupCheck;

/// <summary>Builds every registered component and reports every invalid one in one <see cref="OptionsValidationException"/>.</summary>
internal sealed class StartupValidator(ComponentRuntime runtime) : IValidateOptions<StartupCheck>
{
    public ValidateOptionsResult Validate(string? name, StartupCheck options)
    {
        var failures = runtime.CreateAll();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
