using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace ParallelExec.Agents;

/// <content>
/// The JSON-lines protocol: reading the process's output (the ready line, replies matched to requests by id, lines that
/// are not the protocol) and writing one request line at a time.
/// </content>
public sealed partial class ProcessAgent
{
    private void BeginReading()
    {
        _errorLoop = Task.Run(ReadErrorLoopAsync);
        _process.Exited += (_, _) => _ = OnExitedAsync();
        _readLoop = Task.Run(ReadLoopAsync);
    }

    private async Task ReadLoopAsync()
    {
        var reader = new BoundedLineReader(_process.StandardOutput.BaseStream, _options.MaxLineLength);
        try
        {
            await reader.ReadToEndAsync(HandleLine, OnLineTooLong, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Cancelled by dispose, or the pipe broke: either way the agent is done.
        }

        await TerminateAsync().ConfigureAwait(false);
    }

    private async Task ReadErrorLoopAsync()
    {
        // Bounded like standard output: a process must not be able to make the host buffer an endless error line.
        var limit = Math.Max(_options.MaxStandardErrorLength, 1);
        var reader = new BoundedLineReader(_process.StandardError.BaseStream, limit);
        try
        {
            await reader.ReadToEndAsync(
                _standardError.AppendLine,
                () =>
                {
                    _standardError.AppendLine($"[a line of standard error longer than {limit} bytes was left out]");
                    return true;
                },
                _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The process is gone or the agent disposed: the tail keeps what was read.
        }
    }

    private bool OnLineTooLong()
    {
        // The rest of the stream cannot be trusted (the line may hold a reply's id or the start of the next one): fail
        // what is in flight with a protocol error, mark the agent unhealthy before its callers resume, and stop it.
        Volatile.Write(ref _broken, 1);
        var message = $"Agent '{Id}' (pid {ProcessId}) wrote an output line longer than ProcessAgentOptions.MaxLineLength " +
            $"({_options.MaxLineLength.ToString(CultureInfo.InvariantCulture)} bytes); the agent was stopped.";
        _ready.TrySetException(new AgentSpawnException(Id, message, null));
        foreach (var requestId in _pending.Keys)
        {
            if (_pending.TryRemove(requestId, out var pending))
            {
                pending.TrySetException(new AgentProtocolException(Id, message, null));
            }
        }

        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // It exited meanwhile.
        }

        ProcessContainment.KillGroup(ProcessId);
        return false;
    }

    private void HandleLine(string line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        AgentWireMessage? message = null;
        try
        {
            message = JsonSerializer.Deserialize(line, AgentJsonContext.Default.AgentWireMessage);
        }
        catch (JsonException)
        {
            // Not a protocol line; handled below.
        }

        if (!_ready.Task.IsCompleted)
        {
            // Anything before the ready line (a banner, a log line) is start-up noise, not a reply to anything.
            if (string.Equals(message?.Type, "ready", StringComparison.Ordinal))
            {
                ReadyLine = line;
                _ready.TrySetResult(line);
            }

            return;
        }

        if (message?.Id is not { } requestId)
        {
            if (message?.Type is null)
            {
                FailInFlight(line);
            }

            return;
        }

        if (!_pending.TryRemove(requestId, out var pending))
        {
            return; // A late reply to a request that was cancelled.
        }

        if (message.Ok == false)
        {
            pending.TrySetException(new AgentException(Id, $"Agent '{Id}' failed the request: {message.Error}", null));
        }
        else
        {
            pending.TrySetResult(message.Body ?? string.Empty);
        }
    }

    private void FailInFlight(string line)
    {
        // A line that is not the protocol cannot be matched to a request, so every request in flight on this agent
        // fails (with the default concurrency of one, exactly the request being served). The agent itself goes on.
        var shown = line.Length > 200 ? string.Concat(line.AsSpan(0, 200), "...") : line;
        foreach (var requestId in _pending.Keys)
        {
            if (_pending.TryRemove(requestId, out var pending))
            {
                pending.TrySetException(new AgentProtocolException(
                    Id, $"Agent '{Id}' (pid {ProcessId}) wrote a line that is not a protocol reply while the request was in flight: {shown}", null));
            }
        }
    }

    private async ValueTask WriteRequestAsync(long requestId, string request, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _writeBuffer.ResetWrittenCount();
            _jsonWriter.Reset(_writeBuffer);
            _jsonWriter.WriteStartObject();
            _jsonWriter.WriteNumber("id"u8, requestId);
            _jsonWriter.WriteString("body"u8, request);
            _jsonWriter.WriteEndObject();
            _jsonWriter.Flush();
            _writeBuffer.Write("\n"u8);

            // Not cancellable once started: a half-written line would corrupt the stream for every later request.
            await _input.WriteAsync(_writeBuffer.WrittenMemory, CancellationToken.None).ConfigureAwait(false);
            await _input.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
