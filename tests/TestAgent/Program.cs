using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TestAgent;

/// <summary>
/// A small real agent program for the ParallelExec tests, benchmarks and samples.
/// </summary>
/// <remarks>
/// Protocol (the one <c>ProcessAgent</c> speaks): after its start-up the agent writes one ready line
/// <c>{"type":"ready","pid":..,"startedAt":..,"readyAt":..}</c> to stdout; then every stdin line is a request
/// <c>{"id":N,"body":"command"}</c> and every reply is a stdout line <c>{"id":N,"ok":true,"body":".."}</c> or
/// <c>{"id":N,"ok":false,"error":".."}</c>. Requests run concurrently, so several can be in flight. The agent exits
/// when stdin closes.
/// Options: <c>--startup-ms N</c> (a slow start-up that stands for loading a model or context),
/// <c>--fail-start</c> (exit with code 2 before the ready line), <c>--banner</c> (print a non-JSON line before ready).
/// Commands: <c>echo:TEXT</c>, <c>work:MS</c>, <c>pid</c>, <c>context</c>, <c>fail:MESSAGE</c>, <c>stderr:TEXT</c>,
/// <c>garbage</c> (a non-JSON line instead of a reply), <c>crash</c> (exit code 3 without a reply),
/// <c>crash-after:MS</c>, <c>exit</c> (exit code 0 without a reply), <c>child</c> (start a long-lived child process and
/// reply with its pid), <c>env:NAME</c> (reply with that environment variable, or <c>&lt;unset&gt;</c>),
/// <c>long-line:BYTES</c> (write one output line of that many bytes instead of a reply), <c>hold:NAME</c> (reply <c>released NAME</c> only once a <c>release:NAME</c> request has come,
/// so a test orders replies without racing a timer).
/// </remarks>
public static class Program
{
    private static readonly object OutputGate = new();
    private static readonly Stream Output = Console.OpenStandardOutput();
    private static readonly List<Process> Children = [];
    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Holds = new(StringComparer.Ordinal);

    public static async Task<int> Main(string[] args)
    {
        // Wall-clock times are the point here: tests compare them across processes to prove that start-ups overlapped.
        var startedAt = DateTimeOffset.UtcNow;
        var startupMs = 0;
        var failStart = false;
        var banner = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--startup-ms":
                    startupMs = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--fail-start":
                    failStart = true;
                    break;
                case "--banner":
                    banner = true;
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}");
                    return 64;
            }
        }

        Console.Error.WriteLine($"TestAgent {Environment.ProcessId} starting");
        if (startupMs > 0)
        {
            // Stands for loading a model or a context before the agent can serve.
            Thread.Sleep(startupMs);
        }

        if (failStart)
        {
            Console.Error.WriteLine("TestAgent failing its start-up on demand");
            return 2;
        }

        if (banner)
        {
            WriteRaw("TestAgent banner: not a protocol line");
        }

        var context = Environment.GetEnvironmentVariable("PARALLELEXEC_AGENT_CONTEXT");
        WriteJson(w =>
        {
            w.WriteString("type", "ready");
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteString("startedAt", startedAt);
            w.WriteString("readyAt", DateTimeOffset.UtcNow);
            w.WriteString("context", context);
        });

        using var input = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        var running = new List<Task>();
        while (await input.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            running.RemoveAll(t => t.IsCompleted);
            running.Add(Task.Run(() => HandleAsync(line)));
        }

        await Task.WhenAll(running);
        return 0;
    }

    private static async Task HandleAsync(string line)
    {
        long id;
        string body;
        try
        {
            using var doc = JsonDocument.Parse(line);
            id = doc.RootElement.GetProperty("id").GetInt64();
            body = doc.RootElement.GetProperty("body").GetString() ?? string.Empty;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine($"TestAgent could not read request: {line}");
            return;
        }

        var colon = body.IndexOf(':', StringComparison.Ordinal);
        var command = colon < 0 ? body : body[..colon];
        var argument = colon < 0 ? string.Empty : body[(colon + 1)..];
        switch (command)
        {
            case "echo":
                Reply(id, argument);
                break;
            case "work":
                await Task.Delay(int.Parse(argument, CultureInfo.InvariantCulture));
                Reply(id, "worked " + argument);
                break;
            case "hold":
                await Hold(argument).Task;
                Reply(id, "released " + argument);
                break;
            case "release":
                Hold(argument).TrySetResult();
                Reply(id, "ok");
                break;
            case "pid":
                Reply(id, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
                break;
            case "context":
                Reply(id, Environment.GetEnvironmentVariable("PARALLELEXEC_AGENT_CONTEXT") ?? string.Empty);
                break;
            case "fail":
                WriteJson(w =>
                {
                    w.WriteNumber("id", id);
                    w.WriteBoolean("ok", false);
                    w.WriteString("error", argument);
                });
                break;
            case "stderr":
                Console.Error.WriteLine(argument);
                Reply(id, "ok");
                break;
            case "garbage":
                WriteRaw("%%% this is not JSON {{{");
                break;
            case "crash":
                Console.Error.WriteLine("TestAgent crashing on demand");
                Environment.Exit(3);
                break;
            case "crash-after":
                await Task.Delay(int.Parse(argument, CultureInfo.InvariantCulture));
                Console.Error.WriteLine("TestAgent crashing on demand");
                Environment.Exit(3);
                break;
            case "exit":
                Environment.Exit(0);
                break;
            case "child":
                Reply(id, StartChild().ToString(CultureInfo.InvariantCulture));
                break;
            case "env":
                Reply(id, Environment.GetEnvironmentVariable(argument) ?? "<unset>");
                break;
            case "long-line":
                WriteLongLine(long.Parse(argument, CultureInfo.InvariantCulture));
                break;
            default:
                WriteJson(w =>
                {
                    w.WriteNumber("id", id);
                    w.WriteBoolean("ok", false);
                    w.WriteString("error", "unknown command " + command);
                });
                break;
        }
    }

    private static TaskCompletionSource Hold(string name) =>
        Holds.GetOrAdd(name, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private static int StartChild()
    {
        // A grandchild of the host: proves that disposing the agent kills the whole process tree. It redirects its own
        // streams so that it does not hold the host's pipes open.
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(typeof(Program).Assembly.Location);
        info.ArgumentList.Add("--startup-ms");
        info.ArgumentList.Add("600000");
        var child = Process.Start(info)!;
        lock (Children)
        {
            Children.Add(child);
        }

        return child.Id;
    }

    private static void WriteLongLine(long length)
    {
        // A line of `length` bytes (and its newline) written in chunks, as a runaway or hostile agent would: it never
        // exists whole in this process, so its size is bounded only by the reader's limit.
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        lock (OutputGate)
        {
            try
            {
                for (var left = length; left > 0; left -= chunk.Length)
                {
                    Output.Write(chunk, 0, (int)Math.Min(left, chunk.Length));
                }

                Output.Write("\n"u8);
                Output.Flush();
            }
            catch (IOException)
            {
                // The reader gave up on the line and closed the pipe: the point of the command.
            }
        }
    }

    private static void Reply(long id, string body) => WriteJson(w =>
    {
        w.WriteNumber("id", id);
        w.WriteBoolean("ok", true);
        w.WriteString("body", body);
    });

    private static void WriteJson(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        WriteBytes(buffer.ToArray());
    }

    private static void WriteRaw(string line) => WriteBytes(Encoding.UTF8.GetBytes(line + "\n"));

    private static void WriteBytes(byte[] bytes)
    {
        lock (OutputGate)
        {
            Output.Write(bytes);
            Output.Flush();
        }
    }
}
