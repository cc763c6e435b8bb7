using ParallelExec.Coordination;

namespace ParallelExec.Tests.Coordination;

public class TopicPatternTests
{
    [Theory]
    [InlineData("agents.coder.done", "agents.coder.done", true)]
    [InlineData("agents.coder.done", "agents.coder.don", false)]
    [InlineData("agents.coder.done", "agents.coder.done.x", false)]
    [InlineData("agents.coder.done", "Agents.coder.done", false)]
    [InlineData("agents.*.done", "agents.coder.done", true)]
    [InlineData("agents.*.done", "agents.tester.done", true)]
    [InlineData("agents.*.done", "agents.done", false)]
    [InlineData("agents.*.done", "agents.coder.unit.done", false)]
    [InlineData("agents.*.done", "agents.coder.started", false)]
    [InlineData("agents.*.done", "other.coder.done", false)]
    [InlineData("*", "agents", true)]
    [InlineData("*", "agents.coder", false)]
    [InlineData("*.*", "a.b", true)]
    [InlineData("*.*", "a", false)]
    [InlineData("*.*", "a.b.c", false)]
    [InlineData("agents.>", "agents.coder", true)]
    [InlineData("agents.>", "agents.coder.done", true)]
    [InlineData("agents.>", "agents.coder.unit.tests.done", true)]
    [InlineData("agents.>", "agents", false)]
    [InlineData("agents.>", "agentsx.coder", false)]
    [InlineData("agents.>", "other.agents.coder", false)]
    [InlineData(">", "a", true)]
    [InlineData(">", "a.b.c", true)]
    [InlineData("agents.*.>", "agents.coder.done", true)]
    [InlineData("agents.*.>", "agents.coder", false)]
    [InlineData("*.coder.>", "agents.coder.unit.done", true)]
    [InlineData("*.coder.>", "agents.tester.unit.done", false)]
    [InlineData("a.b", "a.bc", false)]
    [InlineData("a.*", "a.bc", true)]
    public void IsMatch_follows_the_pattern_table(string pattern, string topic, bool expected)
    {
        var parsed = TopicPattern.Parse(pattern);

        Assert.Equal(expected, parsed.IsMatch(topic));
        Assert.Equal(expected, parsed.IsMatch(topic.AsSpan()));
    }

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData(".agents", "segment 0 is empty")]
    [InlineData("agents.", "segment 1 is empty")]
    [InlineData("agents..done", "segment 1 is empty")]
    [InlineData("agents.>.done", "the '>' wildcard (segment 1) must be the last segment")]
    [InlineData("agents.cod*", "segment 1 (\"cod*\") mixes a wildcard with other characters")]
    [InlineData("agents.a>", "segment 1 (\"a>\") mixes a wildcard")]
    [InlineData("agents.co der", "segment 1 contains whitespace")]
    public void Parse_rejects_invalid_patterns_naming_the_pattern(string pattern, string reason)
    {
        var exception = Assert.Throws<ArgumentException>(() => TopicPattern.Parse(pattern));

        Assert.Equal("pattern", exception.ParamName);
        Assert.StartsWith($"Invalid topic pattern \"{pattern}\": {reason}", exception.Message, StringComparison.Ordinal);
        Assert.False(TopicPattern.TryParse(pattern, out _));
    }

    [Theory]
    [InlineData("agents.*.done", "segment 1 is the wildcard '*', and a published topic cannot hold wildcards")]
    [InlineData("agents.>", "segment 1 is the wildcard '>', and a published topic cannot hold wildcards")]
    [InlineData("agents.co*", "segment 1 (\"co*\") contains a wildcard character")]
    [InlineData("agents..done", "segment 1 is empty")]
    [InlineData("", "it is empty")]
    public void ValidateTopic_rejects_wildcards_and_empty_segments(string topic, string reason)
    {
        var exception = Assert.Throws<ArgumentException>(() => TopicPattern.ValidateTopic(topic));

        Assert.Equal("topic", exception.ParamName);
        Assert.StartsWith($"Invalid topic \"{topic}\": {reason}", exception.Message, StringComparison.Ordinal);
        Assert.False(TopicPattern.IsValidTopic(topic));
    }

    [Fact]
    public void Null_pattern_and_topic_throw_ArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>("pattern", () => TopicPattern.Parse(null!));
        string? topic = null;
        Assert.Throws<ArgumentNullException>("topic", () => TopicPattern.ValidateTopic(topic!));
        Assert.False(TopicPattern.TryParse(null, out _));
    }

    [Fact]
    public void HasWildcards_and_equality()
    {
        Assert.False(TopicPattern.Parse("a.b").HasWildcards);
        Assert.True(TopicPattern.Parse("a.*").HasWildcards);
        Assert.True(TopicPattern.Parse("a.>").HasWildcards);
        Assert.Equal(TopicPattern.Parse("a.*"), TopicPattern.Parse("a.*"));
        Assert.Equal("a.*", TopicPattern.Parse("a.*").ToString());
    }

    [Fact]
    public void Matching_does_not_allocate()
    {
        var pattern = TopicPattern.Parse("agents.*.>");
        const string topic = "agents.coder.unit.done";
        pattern.IsMatch(topic);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(pattern.IsMatch(topic));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
