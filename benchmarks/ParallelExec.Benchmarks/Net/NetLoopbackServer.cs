using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ParallelExec.Benchmarks.Net;

/// <summary>
/// A Kestrel server on 127.0.0.1 for the network benchmarks: <c>GET /p/{provider}/{id}</c> waits <see cref="Latency"/>
/// and answers the id; with <see cref="RequestsPerSecond"/> set, each provider is held to that many requests in any
/// sliding second and the excess gets 429 with <c>Retry-After: 1</c>, like a model provider's API. <c>POST /bulk</c> answers
/// a line per line of its body after the same latency.
/// </summary>
internal sealed class NetLoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Queue<long>> _windows = new(StringComparer.Ordinal);
    private long _throttled;

    private NetLoopbackServer(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public TimeSpan Latency { get; init; }

    public int? RequestsPerSecond { get; init; }

    public long Throttled => Interlocked.Read(ref _throttled);

    public static async Task<NetLoopbackServer> StartAsync(TimeSpan latency, int? requestsPerSecond = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new NetLoopbackServer(app) { Latency = latency, RequestsPerSecond = requestsPerSecond };
        app.MapGet("/p/{provider}/{id}", (string provider, string id, HttpContext context) => server.HandleAsync(provider, id, context));
        app.MapPost("/bulk", (HttpContext context) => server.HandleBulkAsync(context));
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    public Uri Url(string provider, int id) => new(BaseAddress, $"p/{provider}/{id}");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(string provider, string id, HttpContext context)
    {
        if (RequestsPerSecond is { } limit && !TryTakeSlot(provider, limit))
        {
            Interlocked.Increment(ref _throttled);
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "1";
            return;
        }

        await Task.Delay(Latency, context.RequestAborted).ConfigureAwait(false);
        await context.Response.WriteAsync(id, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A bulk endpoint: one item per line in, one answer per line out, after the same latency whatever the size.</summary>
    private async Task HandleBulkAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        await Task.Delay(Latency, context.RequestAborted).ConfigureAwait(false);
        await context.Response.WriteAsync(body.Replace("item", "vec", StringComparison.Ordinal), context.RequestAborted).ConfigureAwait(false);
    }

    private bool TryTakeSlot(string provider, int limit)
    {
        var window = _windows.GetOrAdd(provider, _ => new Queue<long>());
        var now = Environment.TickCount64;
        lock (window)
        {
            while (window.TryPeek(out var oldest) && now - oldest >= 1000)
            {
                window.Dequeue();
            }

            if (window.Count >= limit)
            {
                return false;
            }

            window.Enqueue(now);
            return true;
        }
    }
}
