using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ParallelExec.Tests.Net;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (a free port) for the network tests: it adds latency, answers 429 or 503 with
/// <c>Retry-After</c> when told to, counts open connections and concurrent requests, and echoes a bulk endpoint.
/// </summary>
/// <remarks>
/// Routes: <c>GET /p/{provider}/{id}</c> answers <c>{provider}:{id}</c>; <c>POST /bulk/{provider}</c> takes one item per line and
/// answers <c>echo:{item}</c> per line, in order.
/// </remarks>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<ThrottleAnswer>> _throttles = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _requestsByProvider = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<int> _bulkSizes = new();
    private int _openConnections;
    private int _peakConnections;
    private int _totalConnections;
    private int _inFlight;
    private int _peakInFlight;

    private LoopbackServer(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Latency added to every request.</summary>
    public TimeSpan Latency { get; set; }

    public int OpenConnections => Volatile.Read(ref _openConnections);

    public int PeakConnections => Volatile.Read(ref _peakConnections);

    public int TotalConnections => Volatile.Read(ref _totalConnections);

    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    public IReadOnlyCollection<int> BulkSizes => _bulkSizes;

    public int RequestsFor(string provider) => _requestsByProvider.TryGetValue(provider, out var n) ? n : 0;

    /// <summary>The next request for <paramref name="provider"/> gets <paramref name="status"/> with the given <c>Retry-After</c> (seconds), or none.</summary>
    public void ThrottleNext(string provider, HttpStatusCode status = HttpStatusCode.TooManyRequests, int? retryAfterSeconds = 1) =>
        _throttles.GetOrAdd(provider, _ => new ConcurrentQueue<ThrottleAnswer>()).Enqueue(new ThrottleAnswer(status, retryAfterSeconds));

    public Uri Url(string provider, int id) => new(BaseAddress, $"p/{provider}/{id}");

    public static async Task<LoopbackServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        LoopbackServer? server = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => async connection =>
        {
            server!.OnConnectionOpened();
            try
            {
                await next(connection);
            }
            finally
            {
                Interlocked.Decrement(ref server._openConnections);
            }
        })));
        var app = builder.Build();
        server = new LoopbackServer(app);
        app.MapGet("/p/{provider}/{id}", (string provider, string id, HttpContext context) => server.HandleAsync(provider, id, context));
        app.MapPost("/bulk/{provider}", (string provider, HttpContext context) => server.HandleBulkAsync(provider, context));
        server.BaseAddress = await KestrelLoopback.StartAsync(app);
        return server;
    }

    public ValueTask DisposeAsync() => KestrelLoopback.StopAsync(_app);

    private void OnConnectionOpened()
    {
        Interlocked.Increment(ref _totalConnections);
        var open = Interlocked.Increment(ref _openConnections);
        UpdatePeak(ref _peakConnections, open);
    }

    private async Task HandleAsync(string provider, string id, HttpContext context)
    {
        _requestsByProvider.AddOrUpdate(provider, 1, (_, n) => n + 1);
        UpdatePeak(ref _peakInFlight, Interlocked.Increment(ref _inFlight));
        try
        {
            if (Latency > TimeSpan.Zero)
            {
                await Task.Delay(Latency, context.RequestAborted);
            }

            if (_throttles.TryGetValue(provider, out var queue) && queue.TryDequeue(out var throttle))
            {
                context.Response.StatusCode = (int)throttle.Status;
                if (throttle.RetryAfterSeconds is { } seconds)
                {
                    context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                }

                return;
            }

            await context.Response.WriteAsync($"{provider}:{id}", context.RequestAborted);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task HandleBulkAsync(string provider, HttpContext context)
    {
        _requestsByProvider.AddOrUpdate(provider, 1, (_, n) => n + 1);
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        if (_throttles.TryGetValue(provider, out var queue) && queue.TryDequeue(out var throttle))
        {
            context.Response.StatusCode = (int)throttle.Status;
            if (throttle.RetryAfterSeconds is { } seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            return;
        }

        var items = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        _bulkSizes.Enqueue(items.Length);
        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency, context.RequestAborted);
        }

        await context.Response.WriteAsync(string.Join('\n', items.Select(item => "echo:" + item)), context.RequestAborted);
    }

    private static void UpdatePeak(ref int peak, int value)
    {
        var current = Volatile.Read(ref peak);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref peak, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private sealed record ThrottleAnswer(HttpStatusCode Status, int? RetryAfterSeconds);
}
