using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace ParallelExec.Benchmarks.Redis;

/// <summary>
/// A loopback TCP proxy in front of a server that adds a fixed round-trip time: every chunk a client sends reaches the
/// server at least <see cref="RoundTrip"/> after it was read (the timer's granularity may add up to about a
/// millisecond), in order; replies pass at once. A stand-in for a server on the
/// network, with latency but no bandwidth limit, so pipelining and batching show what they save per round trip.
/// </summary>
internal sealed class DelayProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly Task _accepting;

    public DelayProxy(int upstreamPort, TimeSpan roundTrip)
    {
        _upstream = new IPEndPoint(IPAddress.Loopback, upstreamPort);
        RoundTrip = roundTrip;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Gets the added round-trip time.</summary>
    public TimeSpan RoundTrip { get; }

    /// <summary>Gets the port clients connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_clients)
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }
        }

        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            var server = new TcpClient { NoDelay = true };
            await server.ConnectAsync(_upstream, _stop.Token).ConfigureAwait(false);
            client.NoDelay = true;
            lock (_clients)
            {
                _clients.Add(client);
                _clients.Add(server);
            }

            _ = PumpAsync(client.GetStream(), server.GetStream(), RoundTrip);
            _ = PumpAsync(server.GetStream(), client.GetStream(), TimeSpan.Zero);
        }
    }

    /// <summary>Copies one direction: a reader stamps each chunk, a writer forwards it once its delay has passed.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to, TimeSpan delay)
    {
        var chunks = Channel.CreateUnbounded<(long Due, byte[] Bytes)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = Task.Run(async () =>
        {
            await foreach (var (due, bytes) in chunks.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                // Task.Delay counts whole milliseconds and truncates: wait in whole milliseconds rounded up, until due.
                TimeSpan wait;
                while ((wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due)) > TimeSpan.Zero)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), _stop.Token).ConfigureAwait(false);
                }

                await to.WriteAsync(bytes, _stop.Token).ConfigureAwait(false);
            }
        });
        try
        {
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token).ConfigureAwait(false)) > 0)
            {
                var due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
                chunks.Writer.TryWrite((due, buffer.AsSpan(0, read).ToArray()));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // A side closed, or the proxy stopped.
        }
        finally
        {
            chunks.Writer.TryComplete();
        }

        try
        {
            await writer.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The other side closed first.
        }
    }
}
