using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ParallelExec.Tests.Net;

/// <summary>
/// A real Kestrel server on 127.0.0.1 that misbehaves on purpose, for the gate's hostile-input tests and its 429 storm.
/// </summary>
/// <remarks>
/// Routes: <c>GET /bytes/{n}?declare=true|false</c> answers n bytes (with or without <c>Content-Length</c>);
/// <c>GET /gzip/{n}</c> answers n zero bytes gzip-compressed (a few KiB on the wire); <c>GET /redirect?to=URL&amp;status=S</c>
/// answers status S (302 by default) to URL; <c>GET /ok/{id}</c> answers <c>ok:{id}</c>; <c>GET /storm/{id}</c> answers
/// <c>storm:{id}</c>, or 429 with <c>Retry-After: 1</c> while a burst is on (see <see cref="IsBurst"/>). Every request
/// is counted by path.
/// </remarks>
public sealed class HostileServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);
    private long _stormRequests;
    private long _stormThrottled;

    private HostileServer(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Decides, from the storm request's sequence number (from 0), whether it is answered 429.</summary>
    public Func<long, bool> IsBurst { get; set; } = _ => false;

    public long StormRequests => Interlocked.Read(ref _stormRequests);

    public long StormThrottled => Interlocked.Read(ref _stormThrottled);

    public int Hits(string path) => _hits.TryGetValue(path, out var n) ? n : 0;

    public Uri Url(string relative) => new(BaseAddress, relative);

    public static async Task<HostileServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new HostileServer(app);
        app.Use(async (context, next) =>
        {
            server._hits.AddOrUpdate(context.Request.Path.Value ?? string.Empty, 1, (_, n) => n + 1);
            await next(context);
        });
        app.MapGet("/bytes/{n:long}", (long n, bool? declare, HttpContext context) => WriteBytesAsync(context, n, declare ?? true));
        app.MapGet("/gzip/{n:long}", (long n, HttpContext context) => WriteGzipAsync(context, n));
        app.MapGet("/redirect", (string to, int? status, HttpContext context) =>
        {
            context.Response.StatusCode = status ?? 302;
            context.Response.Headers.Location = to;
            return Task.CompletedTask;
        });
        app.MapGet("/ok/{id}", (string id) => "ok:" + id);
        app.MapGet("/storm/{id}", (string id, HttpContext context) => server.StormAsync(id, context));
        server.BaseAddress = await KestrelLoopback.StartAsync(app);
        return server;
    }

    public ValueTask DisposeAsync() => KestrelLoopback.StopAsync(_app);

    private static async Task WriteBytesAsync(HttpContext context, long length, bool declare)
    {
        if (declare)
        {
            context.Response.ContentLength = length;
        }

        var chunk = new byte[16 * 1024];
        Array.Fill(chunk, (byte)'x');
        try
        {
            for (var left = length; left > 0; left -= chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, (int)Math.Min(left, chunk.Length)), context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            // The client gave up on the body: what the cap is for.
        }
    }

    private static async Task WriteGzipAsync(HttpContext context, long length)
    {
        // Compressed once per request into memory: n zero bytes compress about a thousandfold.
        var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[64 * 1024];
            for (var left = length; left > 0; left -= zeros.Length)
            {
                gzip.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
            }
        }

        context.Response.Headers.ContentEncoding = "gzip";
        context.Response.ContentLength = compressed.Length;
        await context.Response.Body.WriteAsync(compressed.GetBuffer().AsMemory(0, (int)compressed.Length), context.RequestAborted);
    }

    private async Task StormAsync(string id, HttpContext context)
    {
        var sequence = Interlocked.Increment(ref _stormRequests) - 1;
        if (IsBurst(sequence))
        {
            Interlocked.Increment(ref _stormThrottled);
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = 1.ToString(CultureInfo.InvariantCulture);
            return;
        }

        await context.Response.WriteAsync("storm:" + id, context.RequestAborted);
    }
}
