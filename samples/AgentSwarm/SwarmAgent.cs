using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgentSwarm;

/// <summary>
/// The agent side: what runs when this program is started with <c>--agent</c>. It speaks the JSON-lines protocol of
/// <c>ParallelExec.Agents.ProcessAgent</c>: after its start-up it writes <c>{"type":"ready"}</c>; then each line on
/// standard input is a request <c>{"id":N,"body":"..."}</c> and each reply is <c>{"id":N,"ok":true,"body":"..."}</c> (or
/// <c>"ok":false</c> with an <c>"error"</c>). Requests are served concurrently; the agent exits when its input closes.
/// </summary>
/// <remarks>
/// A real agent would call a model here. This one computes its answers from the text it is given, so that both ways of
/// running the workflow can be checked to give exactly the same result.
/// </remarks>
internal static class SwarmAgent
{
    private static readonly object OutputGate = new();
    private static readonly Stream Output = Console.OpenStandardOutput();

    public static async Task<int> RunAsync(string[] args)
    {
        var startupMs = 0;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--startup-ms" && i + 1 < args.Length)
            {
                startupMs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
        }

        // Stands for loading a model or a context: the cost the analysis measured at about one second per agent.
        await Task.Delay(startupMs);
        Write(w => w.WriteString("type", "ready"));

        using var input = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        var running = new List<Task>();
        while (await input.ReadLineAsync() is { } line)
        {
            if (line.Length > 0)
            {
                running.RemoveAll(static t => t.IsCompleted);
                running.Add(Task.Run(() => Serve(line)));
            }
        }

        await Task.WhenAll(running);
        return 0;
    }

    /// <summary>Builds a summarise request: the agent answers with a one-line note about the file.</summary>
    public static string SummariseRequest(string fileName, string text) => $"summarise\n{fileName}\n{text}";

    /// <summary>Builds a review request: the reviewer answers with a one-line review of the author's notes.</summary>
    public static string ReviewRequest(string reviewer, string author, IEnumerable<string> notes) =>
        $"review\n{reviewer}\n{author}\n{string.Join('\n', notes)}";

    private static void Serve(string line)
    {
        long id = 0;
        try
        {
            using var request = JsonDocument.Parse(line);
            id = request.RootElement.GetProperty("id").GetInt64();
            var body = request.RootElement.GetProperty("body").GetString() ?? string.Empty;
            var reply = body.StartsWith("summarise\n", StringComparison.Ordinal) ? Summarise(body)
                : body.StartsWith("review\n", StringComparison.Ordinal) ? Review(body)
                : throw new InvalidOperationException("unknown request: " + body.Split('\n')[0]);
            Write(w =>
            {
                w.WriteNumber("id", id);
                w.WriteBoolean("ok", true);
                w.WriteString("body", reply);
            });
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            Write(w =>
            {
                w.WriteNumber("id", id);
                w.WriteBoolean("ok", false);
                w.WriteString("error", ex.Message);
            });
        }
    }

    private static string Summarise(string body)
    {
        var parts = body.Split('\n', 3);
        var fileName = parts[1];
        var text = parts.Length > 2 ? parts[2] : string.Empty;
        var words = text.Split([' ', '\n', '\r', '\t', '.', ','], StringSplitOptions.RemoveEmptyEntries);
        var topWord = words
            .Where(static w => w.Length > 3)
            .GroupBy(static w => w.ToLowerInvariant())
            .OrderByDescending(static g => g.Count())
            .ThenBy(static g => g.Key, StringComparer.Ordinal)
            .Select(static g => g.Key)
            .FirstOrDefault() ?? "-";
        var lines = text.Count(static c => c == '\n');
        return $"{fileName}: {lines} lines, {words.Length} words, mostly about '{topWord}', sha {Checksum(text)}";
    }

    private static string Review(string body)
    {
        var parts = body.Split('\n');
        var (reviewer, author, notes) = (parts[1], parts[2], parts[3..]);
        return $"{reviewer} reviewed {notes.Length} notes of {author}: checksum {Checksum(string.Join('\n', notes))}";
    }

    private static string Checksum(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 4));

    private static void Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        lock (OutputGate)
        {
            Output.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            Output.Flush();
        }
    }
}
