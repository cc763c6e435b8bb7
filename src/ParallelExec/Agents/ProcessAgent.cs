using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ParallelExec.Agents;

// Split by responsibility: this file is the API (start, send, dispose); ProcessAgent.Protocol.cs reads and writes the
// JSON lines; ProcessAgent.Lifetime.cs starts the process, notices its exit and kills it. _disposeGate guards only
// _disposeTask; the pending requests live in a concurrent dictionary, and no lock is held while user code runs.

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
public sealed partial class ProcessAgent : IAgent
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
    private Task _errorLoop = Task.CompletedTask;
    private Task? _disposeTask;
    private long _nextRequestId;
    private int _terminated;
    private int _broken;
    private int _disposed;
    private int _containmentReleased;
    private string? _watchTarget;
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
    public bool IsHealthy => (Volatile.Read(ref _terminated) | Volatile.Read(ref _broken) | Volatile.Read(ref _disposed)) == 0;

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

        if (!isPath && copy.ContainProcessTree && ProcessContainment.UsesProcessGroups && ProcessContainment.Resolve(copy.FileName) is null)
        {
            // Started through setsid, a missing program would only show as setsid's exit: say what is wrong instead.
            process.Dispose();
            throw new AgentSpawnException(
                id,
                $"Cannot start agent '{id}': the executable '{copy.FileName}' was not found on the PATH. Check ProcessAgentOptions.FileName and the PATH.",
                new FileNotFoundException("The agent executable was not found on the PATH.", copy.FileName));
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
        if (copy.ContainProcessTree && ProcessContainment.HasWatchdog)
        {
            agent._watchTarget = ProcessContainment.KillTarget(agent.ProcessId);
            HostWatchdog.Register(agent._watchTarget);
        }

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
}
