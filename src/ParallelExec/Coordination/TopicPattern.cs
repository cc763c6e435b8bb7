using System.Diagnostics;

namespace ParallelExec.Coordination;

/// <summary>
/// A subscription pattern over dot-separated topics, parsed and validated once so that matching a published topic
/// allocates nothing.
/// </summary>
/// <remarks>
/// <para>
/// Topics are dot-separated, non-empty segments, for example <c>agents.coder.done</c>. A segment may hold any
/// character except <c>.</c>, whitespace, <c>*</c> and <c>&gt;</c>.
/// </para>
/// <para>
/// A pattern is a topic whose segments may also be wildcards:
/// <list type="bullet">
/// <item><description><c>*</c> matches exactly one segment: <c>agents.*.done</c> matches <c>agents.coder.done</c> but
/// not <c>agents.done</c> nor <c>agents.coder.unit.done</c>.</description></item>
/// <item><description><c>&gt;</c>, allowed only as the last segment, matches one or more remaining segments:
/// <c>agents.&gt;</c> matches <c>agents.coder</c> and <c>agents.coder.done</c> but not <c>agents</c>.</description></item>
/// </list>
/// A wildcard must be a whole segment (<c>agent*</c> is invalid). A pattern without wildcards matches exactly that
/// topic (ordinal, case-sensitive).
/// </para>
/// </remarks>
[DebuggerDisplay("{Pattern,nq}")]
public sealed class TopicPattern : IEquatable<TopicPattern>
{
    private const string SingleWildcard = "*";
    private const string TailWildcard = ">";

    // Null for a pattern without wildcards: such a pattern matches by plain string equality.
    private readonly string[]? _segments;

    private TopicPattern(string pattern, string[]? segments)
    {
        Pattern = pattern;
        _segments = segments;
    }

    /// <summary>Gets the pattern text as it was parsed.</summary>
    public string Pattern { get; }

    /// <summary>Gets a value indicating whether the pattern holds a <c>*</c> or <c>&gt;</c> wildcard.</summary>
    public bool HasWildcards => _segments is not null;

    /// <summary>Parses and validates a pattern.</summary>
    /// <param name="pattern">The pattern, for example <c>agents.*.done</c> or <c>agents.&gt;</c>.</param>
    /// <returns>The parsed pattern.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is not a valid pattern; the message names the
    /// pattern and what is wrong with it.</exception>
    public static TopicPattern Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var error = Validate(pattern, allowWildcards: true, out var hasWildcards);
        if (error is not null)
        {
            throw new ArgumentException($"Invalid topic pattern \"{pattern}\": {error}.", nameof(pattern));
        }

        return new TopicPattern(pattern, hasWildcards ? pattern.Split('.') : null);
    }

    /// <summary>Tries to parse a pattern.</summary>
    /// <param name="pattern">The pattern text.</param>
    /// <param name="result">The parsed pattern, or null when <paramref name="pattern"/> is invalid.</param>
    /// <returns><see langword="true"/> when the pattern is valid.</returns>
    public static bool TryParse(string? pattern, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TopicPattern? result)
    {
        if (pattern is null || Validate(pattern, allowWildcards: true, out var hasWildcards) is not null)
        {
            result = null;
            return false;
        }

        result = new TopicPattern(pattern, hasWildcards ? pattern.Split('.') : null);
        return true;
    }

    /// <summary>Checks that <paramref name="topic"/> is a valid topic to publish to (no wildcards, no empty segment).</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="paramName">The parameter name to put in the exception.</param>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is not a valid topic; the message names the topic
    /// and what is wrong with it.</exception>
    public static void ValidateTopic(string topic, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(topic))] string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(topic, paramName);
        var error = Validate(topic, allowWildcards: false, out _);
        if (error is not null)
        {
            throw new ArgumentException($"Invalid topic \"{topic}\": {error}.", paramName);
        }
    }

    /// <summary>Returns whether <paramref name="topic"/> is a valid topic to publish to.</summary>
    /// <param name="topic">The topic.</param>
    /// <returns><see langword="true"/> when the topic is valid.</returns>
    public static bool IsValidTopic(string? topic) => topic is not null && Validate(topic, allowWildcards: false, out _) is null;

    /// <summary>Returns whether a (valid) topic matches this pattern. Allocates nothing.</summary>
    /// <param name="topic">A published topic.</param>
    /// <returns><see langword="true"/> when the pattern matches the topic.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    public bool IsMatch(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        return IsMatch(topic.AsSpan());
    }

    /// <summary>Returns whether a (valid) topic matches this pattern. Allocates nothing.</summary>
    /// <param name="topic">A published topic.</param>
    /// <returns><see langword="true"/> when the pattern matches the topic.</returns>
    public bool IsMatch(ReadOnlySpan<char> topic)
    {
        var segments = _segments;
        if (segments is null)
        {
            return topic.SequenceEqual(Pattern.AsSpan());
        }

        var rest = topic;
        var exhausted = false;
        foreach (var segment in segments)
        {
            if (exhausted)
            {
                // The pattern wants more segments than the topic has.
                return false;
            }

            if (ReferenceEquals(segment, TailWildcard) || segment == TailWildcard)
            {
                // '>' is last and the topic has at least one segment left.
                return true;
            }

            ReadOnlySpan<char> current;
            var dot = rest.IndexOf('.');
            if (dot < 0)
            {
                current = rest;
                exhausted = true;
            }
            else
            {
                current = rest[..dot];
                rest = rest[(dot + 1)..];
            }

            if (segment != SingleWildcard && !current.SequenceEqual(segment.AsSpan()))
            {
                return false;
            }
        }

        return exhausted;
    }

    /// <inheritdoc/>
    public bool Equals(TopicPattern? other) => other is not null && string.Equals(Pattern, other.Pattern, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TopicPattern);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Pattern);

    /// <inheritdoc/>
    public override string ToString() => Pattern;

    /// <summary>Returns null when valid, otherwise the reason, worded to follow "Invalid topic \"x\": ".</summary>
    internal static string? Validate(string text, bool allowWildcards, out bool hasWildcards)
    {
        hasWildcards = false;
        if (text.Length == 0)
        {
            return "it is empty";
        }

        var segmentStart = 0;
        var segmentIndex = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] != '.')
            {
                if (char.IsWhiteSpace(text[i]))
                {
                    return $"segment {segmentIndex} contains whitespace";
                }

                continue;
            }

            var segment = text.AsSpan(segmentStart, i - segmentStart);
            if (segment.IsEmpty)
            {
                return $"segment {segmentIndex} is empty (leading, trailing or doubled '.')";
            }

            var isStar = segment is "*";
            var isTail = segment is ">";
            if (isStar || isTail)
            {
                if (!allowWildcards)
                {
                    return $"segment {segmentIndex} is the wildcard '{segment}', and a published topic cannot hold wildcards";
                }

                if (isTail && i != text.Length)
                {
                    return $"the '>' wildcard (segment {segmentIndex}) must be the last segment";
                }

                hasWildcards = true;
            }
            else if (segment.IndexOfAny('*', '>') >= 0)
            {
                return allowWildcards
                    ? $"segment {segmentIndex} (\"{segment}\") mixes a wildcard with other characters; '*' and '>' must be whole segments"
                    : $"segment {segmentIndex} (\"{segment}\") contains a wildcard character ('*' or '>'), and a published topic cannot hold wildcards";
            }

            segmentStart = i + 1;
            segmentIndex++;
        }

        return null;
    }
}
