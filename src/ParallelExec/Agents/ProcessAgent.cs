using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ParallelExec.Agents;

/// <summary>
/// An agent that is a real OS process speaking JSON lines over its standard input and output.
/// </summary>
/// <remarks>
/// <para>
/// The protocol: after its start-up (loading a model or a context) the process writes a ready line,
/// <c>{"type":"ready"}</c> (other members are allowed and kept in <see cref="ReadyLine"/>); lines before it are ignored.
/// Each request is a line <c>{"id":N,"body":"..."}</c> on its standard input; each reply is a line
/// <c>{"id":N,"ok":true,"body":"..."}</c> or <c>{"id":N,"ok":false,"error":"..."}</c> on its standard output, in any
/// order, so several requests can be in flight. Lines with a <c>type</c> and no <c>id</c> are notifications and are
/// ignored. The process should exit when its standard input closes.
/// </para>
/// <para>
/// Failures: a line that is not the protocol fails the requests in flight with <see cref="AgentProtocolException"/>
/// and the agent stays healthy; a process that exits fails the requests in flight with
/// <see cref="AgentCrashedException"/> (with its exit code and the end of its standard error) and is unhealthy from then
/// on. Disposing kills the whole process tree.
/// </para>
/// </remarks>
[DebuggerDisplay("{Id} (pid {ProcessId}), Healthy = {IsHealthy}, InFlight = {_pending.Count}")]
public sealed class ProcessAgent : IAgent
{
    /// <summary>
    /// The environment variable in which a string <see cref="AgentSpec.SharedContext"/> is passed to the process:
    /// <c>PARALLELEXEC_AGENT_CONTEXT</c>.
    /// </summary>
    public const string SharedContextEnvironmentVariable = "PARALLELEXEC_AGENT_CONTEXT";

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(2);

    private readonly Process _process;
    private readonly ProcessAgentOptions _options;
    private readonly Stream _input;
    private readonly ConcurrentDictionary<long, PendingRequest> _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _writeBuffer = new(256);
    private readonly Utf8JsonWriter _jsonWriter;
    private readonly StandardErrorTail _standardError;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly object _disposeGate = new();
    private Task _readLoop = Task.CompletedTask;
    private Task? _disposeTask;
    private long _nextRequestId;
    private int _terminated;
    private int _disposed;
    private int? _exitCode;

    private ProcessAgent(string id, Process process, ProcessAgentOptions options)
    {
        Id = id;
        _process = process;
        _options = options;
        ProcessId = process.Id;
        _input = process.StandardInput.BaseStream;
        _jsonWriter = new Utf8JsonWriter(_writeBuffer);
        _standardError = new StandardErrorTail(options.MaxStandardErrorLength);

        // Nobody awaits the handshake once start-up has timed out or been cancelled: observe its failure here so that a
        // late exit does not surface as an unobserved task exception.
        _ready.Task.ContinueWith(
            static t => _ = t.Exception,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <inheritdoc/>
    public string Id { get; }

    /// <summary>Gets the id of the agent's process.</summary>
    public int ProcessId { get; }

    /// <summary>Gets the ready line the process wrote at the end of its start-up, as it wrote it.</summary>
    public string ReadyLine { get; private set; } = string.Empty;

    /// <summary>Gets a value indicating whether the process is running and the agent has not been disposed.</summary>
    public bool IsHealthy => Volatile.Read(ref _terminated) == 0 && Volatile.Read(ref _disposed) == 0;

    /// <summary>Gets the process's exit code once it has exited (and the agent has noticed), otherwise <see langword="null"/>.</summary>
    public int? ExitCode => _exitCode;

    /// <summary>Gets the most recent part of the process's standard error (at most <see cref="ProcessAgentOptions.MaxStandardErrorLength"/> characters).</summary>
    public string StandardError => _standardError.ToString();

    /// <summary>
    /// Starts a process agent and returns once the process has written its ready line.
    /// </summary>
    /// <param name="options">How to start the process; validated and copied.</param>
    /// <param name="spec">
    /// Optional: its <see cref="AgentSpec.Name"/> becomes the agent's <see cref="Id"/> (otherwise the executable's name),
    /// its <see cref="AgentSpec.Arguments"/> follow <see cref="ProcessAgentOptions.Arguments"/>, and a string
    /// <see cref="AgentSpec.SharedContext"/> goes to the process in <see cref="SharedContextEnvironmentVariable"/>.
    /// </param>
    /// <param name="cancellationToken">Cancels the start-up; the process is killed.</param>
    /// <returns>The ready agent.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every invalid value.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="AgentSpawnException">
    /// The executable does not exist or cannot be run, the process exited before it reported ready, or it did not report
    /// ready within <see cref="ProcessAgentOptions.StartupTimeout"/>.
    /// </exception>
    public static async Task<ProcessAgent> StartAsync(ProcessAgentOptions options, AgentSpec? spec = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        var id = spec?.Name ?? Path.GetFileNameWithoutExtension(copy.FileName);
        var process = new Process { StartInfo = CreateStartInfo(copy, spec), EnableRaisingEvents = true };
        var isPath = copy.FileName.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal)
            || copy.FileName.Contains(Path.AltDirectorySeparatorChar, StringComparison.Ordinal);
        if (isPath && !File.Exists(copy.FileName))
        {
            process.Dispose();
            throw new AgentSpawnException(
                id,
                $"Cannot start agent '{id}': the executable '{copy.FileName}' does not exist. Check ProcessAgentOptions.FileName.",
                new FileNotFoundException("The agent executable does not exist.", copy.FileName));
        }

        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException or PlatformNotSupportedException)
        {
            process.Dispose();
            var hint = isPath ? "Check ProcessAgentOptions.FileName." : "Check ProcessAgentOptions.FileName and the PATH.";
            throw new AgentSpawnException(
                id,
                $"Cannot start agent '{id}': the executable '{copy.FileName}' was not found or could not be run ({ex.Message}). {hint}",
                ex);
        }

        var agent = new ProcessAgent(id, process, copy);
        agent.BeginReading();
        try
        {
            await agent._ready.Task.WaitAsync(copy.StartupTimeout, copy.TimeProvider, cancellationToken).ConfigureAwait(false);
            return agent;
        }
        catch (TimeoutException ex)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw new AgentSpawnException(
                id,
                $"Agent '{id}' (pid {agent.ProcessId}) did not report ready within {copy.StartupTimeout}.{agent.StandardErrorSuffix()}",
                ex);
        }
        catch
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<string> SendAsync(string request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _terminated) != 0)
        {
            throw CreateTerminatedException("had already exited when the request was sent", null);
        }

        var pending = new PendingRequest(this, Interlocked.Increment(ref _nextRequestId));
        _pending[pending.RequestId] = pending;

        // Termination sets its flag before it fails the pending requests: a request added after that sweep sees the flag.
        if (Volatile.Read(ref _terminated) != 0 && _pending.TryRemove(pending.RequestId, out _))
        {
            throw CreateTerminatedException("had already exited when the request was sent", null);
        }

        try
        {
            await WriteRequestAsync(pending.RequestId, request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException && Volatile.Read(ref _disposed) == 0)
        {
            _pending.TryRemove(pending.RequestId, out _);
            throw CreateTerminatedException("stopped reading its input", ex);
        }
        catch
        {
            _pending.TryRemove(pending.RequestId, out _);
            throw;
        }

        using (cancellationToken.UnsafeRegister(static (state, token) => ((PendingRequest)state!).Cancel(token), pending))
        {
            return await pending.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Kills the whole process tree, fails the requests still in flight and releases the process. Idempotent.</summary>
    /// <returns>A task that completes when the process has exited and its output has been read to the end.</returns>
    public ValueTask DisposeAsync()
    {
        lock (_disposeGate)
        {
            if (_disposeTask is null)
            {
                Volatile.Write(ref _disposed, 1);
                _disposeTask = DisposeCoreAsync();
            }

            return new ValueTask(_disposeTask);
        }
    }

    private static ProcessStartInfo CreateStartInfo(ProcessAgentOptions options, AgentSpec? spec)
    {
        var info = new ProcessStartInfo(options.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            StandardInputEncoding = Utf8,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
            WorkingDirectory = options.WorkingDirectory ?? string.Empty,
        };
        foreach (var argument in options.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (spec is not null)
        {
            foreach (var argument in spec.Arguments)
            {
                info.ArgumentList.Add(argument);
            }
        }

        foreach (var (name, value) in options.Environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        if (spec?.SharedContext is string context)
        {
            info.Environment[SharedContextEnvironmentVariable] = context;
        }

        return info;
    }

    private void BeginReading()
    {
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _standardError.AppendLine(e.Data);
            }
        };
        _process.BeginErrorReadLine();
        _process.Exited += (_, _) => _ = OnExitedAsync();
        _readLoop = Task.Run(ReadLoopAsync);
    }

    private async Task ReadLoopAsync()
    {
        var output = _process.StandardOutput;
        try
        {
            while (await output.ReadLineAsync(_lifetime.Token).ConfigureAwait(false) is { } line)
            {
                HandleLine(line);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Cancelled by dispose, or the pipe broke: either way the agent is done.
        }

        await TerminateAsync().ConfigureAwait(false);
    }

    private async Task OnExitedAsync()
    {
        // The output may still hold replies written just before the exit: let the reader reach its end first, but do not
        // depend on it (a grandchild holding the pipe open would keep it from ever ending).
        try
        {
            await _readLoop.WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await TerminateAsync().ConfigureAwait(false);
        }
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

    private async Task TerminateAsync()
    {
        if (Interlocked.Exchange(ref _terminated, 1) != 0)
        {
            return;
        }

        // Wait briefly for the exit (and the end of standard error) so the exception carries the exit code and the cause.
        try
        {
            await _process.WaitForExitAsync().WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or SystemException)
        {
            // Still running (it closed its output but lives on) or already released: report what is known.
        }

        try
        {
            if (_process.HasExited)
            {
                _exitCode = _process.ExitCode;
            }
        }
        catch (InvalidOperationException)
        {
            // Released by dispose.
        }

        _ready.TrySetException(new AgentSpawnException(
            Id,
            $"Agent '{Id}' (pid {ProcessId}) {ExitDescription()} before it reported ready.{StandardErrorSuffix()}",
            null));
        foreach (var requestId in _pending.Keys)
        {
            if (_pending.TryRemove(requestId, out var pending))
            {
                pending.TrySetException(Volatile.Read(ref _disposed) != 0
                    ? new ObjectDisposedException(GetType().FullName, $"Agent '{Id}' was disposed while the request was in flight.")
                    : CreateTerminatedException("exited while the request was in flight", null));
            }
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
    }

    private Exception CreateTerminatedException(string what, Exception? inner) => new AgentCrashedException(
        Id,
        _exitCode,
        $"Agent '{Id}' (pid {ProcessId}) {what}: it {ExitDescription()}.{StandardErrorSuffix()}",
        inner);

    private string ExitDescription() => _exitCode is { } code
        ? "exited with code " + code.ToString(CultureInfo.InvariantCulture)
        : "stopped";

    private string StandardErrorSuffix()
    {
        var tail = _standardError.ToString().TrimEnd();
        if (tail.Length == 0)
        {
            return string.Empty;
        }

        if (tail.Length > 1000)
        {
            tail = string.Concat("...", tail.AsSpan(tail.Length - 1000));
        }

        return " Standard error: " + tail;
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

    private async Task DisposeCoreAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // It exited meanwhile.
        }

        try
        {
            await _process.WaitForExitAsync().WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or SystemException)
        {
            // Best effort: the kill was sent.
        }

        // The killed process's output ends, so the reader finishes by itself (and terminates the agent) without the
        // cost of a cancellation; only a pipe held open by an unkillable descendant needs the explicit stop below.
        try
        {
            await _readLoop.WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Stopped below.
        }

        await TerminateAsync().ConfigureAwait(false);

        try
        {
            _input.Dispose();
        }
        catch (IOException)
        {
            // The pipe is already broken.
        }

        _process.Dispose();
        _jsonWriter.Dispose();
    }

    private sealed class PendingRequest(ProcessAgent agent, long requestId)
        : TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public long RequestId { get; } = requestId;

        public void Cancel(CancellationToken cancellationToken)
        {
            if (agent._pending.TryRemove(RequestId, out _))
            {
                TrySetCanceled(cancellationToken);
            }
        }
    }

    private sealed class StandardErrorTail(int capacity)
    {
        private readonly StringBuilder _text = new();

        public void AppendLine(string line)
        {
            lock (_text)
            {
                _text.Append(line).Append('\n');
                if (_text.Length > capacity)
                {
                    _text.Remove(0, _text.Length - capacity);
                }
            }
        }

        public override string ToString()
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }
}
