using System.Globalization;
using System.Text;

namespace ParallelExec;

/// <summary>
/// Collects every invalid option value of one options object and throws a single <see cref="ArgumentException"/>
/// that lists them all, so a user fixes their configuration in one pass rather than one error at a time.
/// </summary>
/// <remarks>
/// Message format, pinned by tests: <c>"Invalid {OptionsType}: {Name} = {value}: {reason}; {Name} = {value}: {reason}."</c>
/// The exception's <see cref="ArgumentException.ParamName"/> is the first invalid member, so a single bad value
/// reads like an ordinary argument error.
/// </remarks>
public sealed class OptionsValidator
{
    private readonly string _optionsName;
    private List<(string Name, string Value, string Reason)>? _errors;

    internal OptionsValidator(string optionsName)
    {
        _optionsName = optionsName;
    }

    /// <summary>Gets whether an error has been recorded.</summary>
    public bool HasErrors => _errors is { Count: > 0 };

    /// <summary>Records an error when <paramref name="valid"/> is false.</summary>
    /// <param name="valid">Whether the value is valid.</param>
    /// <param name="name">The option's name, as the user writes it.</param>
    /// <param name="value">The value, quoted in the message.</param>
    /// <param name="reason">What a valid value is, for example <c>"must be greater than zero"</c>.</param>
    /// <returns>This validator, for chaining.</returns>
    public OptionsValidator Require(bool valid, string name, object? value, string reason)
    {
        if (!valid)
        {
            (_errors ??= []).Add((name, Format(value), reason));
        }

        return this;
    }

    /// <summary>Records an error unless <paramref name="value"/> is greater than zero.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequirePositive(int value, string name) =>
        Require(value > 0, name, value, "must be greater than zero");

    /// <summary>Records an error when <paramref name="value"/> is <see langword="null"/>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequireNotNull(object? value, string name) =>
        Require(value is not null, name, value, "must not be null");

    /// <summary>Records an error unless <paramref name="value"/> is greater than zero.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequirePositive(TimeSpan value, string name) =>
        Require(value > TimeSpan.Zero, name, value, "must be greater than zero");

    /// <summary>Records an error unless <paramref name="value"/> is greater than zero or <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequirePositiveOrInfinite(TimeSpan value, string name) =>
        Require(value > TimeSpan.Zero || value == Timeout.InfiniteTimeSpan, name, value, "must be greater than zero or Timeout.InfiniteTimeSpan");

    /// <summary>
    /// Records an error unless <paramref name="value"/> is <see cref="Timeout.InfiniteTimeSpan"/> or at most the longest
    /// span a timer can wait (<see cref="MaxTimerSpan"/>, about 49.7 days), so a huge value fails when the options are
    /// checked instead of inside a later call. It does not check the lower bound: pair it with
    /// <see cref="RequirePositive(TimeSpan, string)"/> or <see cref="RequirePositiveOrInfinite(TimeSpan, string)"/>.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequireTimerRange(TimeSpan value, string name) =>
        RequireAtMost(value, MaxTimerSpan, name, "the longest timer");

    /// <summary>Records an error unless <paramref name="value"/> is <see langword="null"/> or within <see cref="RequireTimerRange(TimeSpan, string)"/>'s range.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequireTimerRange(TimeSpan? value, string name) =>
        value is { } span ? RequireTimerRange(span, name) : this;

    /// <summary>Gets the longest span a <see cref="System.Threading.Timer"/> (and so <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> or <see cref="Task.Delay(TimeSpan)"/>) can wait.</summary>
    public static TimeSpan MaxTimerSpan { get; } = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Records an error unless <paramref name="value"/> is infinite or at most <paramref name="max"/>, named by <paramref name="limit"/> in the message.</summary>
    internal OptionsValidator RequireAtMost(TimeSpan value, TimeSpan max, string name, string limit) =>
        Require(value == Timeout.InfiniteTimeSpan || value <= max, name, value, $"must be at most {max} ({limit})");

    /// <summary>Records an error unless <paramref name="value"/> is a defined member of its enum.</summary>
    /// <typeparam name="TEnum">The enum type.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="name">The option's name.</param>
    /// <returns>This validator.</returns>
    public OptionsValidator RequireDefined<TEnum>(TEnum value, string name)
        where TEnum : struct, Enum =>
        Require(Enum.IsDefined(value), name, value, $"must be a defined {typeof(TEnum).Name} value");

    /// <summary>Throws one exception listing every recorded error, if there is any.</summary>
    /// <exception cref="ArgumentException">At least one option is invalid.</exception>
    public void ThrowIfInvalid()
    {
        if (_errors is not { Count: > 0 } errors)
        {
            return;
        }

        var message = new StringBuilder("Invalid ").Append(_optionsName).Append(": ");
        for (var i = 0; i < errors.Count; i++)
        {
            if (i > 0)
            {
                message.Append("; ");
            }

            message.Append(errors[i].Name).Append(" = ").Append(errors[i].Value).Append(": ").Append(errors[i].Reason);
        }

        message.Append('.');
        throw new ArgumentException(message.ToString(), errors[0].Name);
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
