using System.Net;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Net;

/// <summary>
/// The gate against a server that misbehaves, over real loopback HTTP: responses larger than the cap (declared, streamed,
/// or inflated by decompression) fail clearly; redirects to another origin are not followed.
/// </summary>
public sealed class HttpGateHostileInputTests : IAsyncLifetime
{
    private HostileServer _server = null!;
    private HostileServer _other = null!;

    public async Task InitializeAsync()
    {
        _server = await HostileServer.StartAsync();
        _other = await HostileServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _other.DisposeAsync();
    }

    [Fact]
    public void DefaultsAreSafe()
    {
        var options = new HttpGateOptions();
        Assert.Equal(16 * 1024 * 1024, options.MaxResponseContentLength);
        Assert.Equal(HttpRedirectPolicy.SameHost, options.RedirectPolicy);
        Assert.False(new PooledHttpClientOptions().AllowAutoRedirect);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AResponseLongerThanTheCapFailsWithAnExceptionNamingTheLimit(bool declared)
    {
        await using var gate = Exec.Http().WithMaxResponseContentLength(64 * 1024).Build();

        // 100 MiB without Content-Length: the read must stop at the cap, not buffer the whole body first.
        var length = declared ? 1024 * 1024 : 100 * 1024 * 1024;
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => gate.SendAsync(
            "p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url($"bytes/{length}?declare={declared}")))).WithTimeout();

        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
        Assert.Contains("MaxResponseContentLength", error.Message, StringComparison.Ordinal);
        Assert.Contains("65536", error.Message, StringComparison.Ordinal);
        var ledger = gate.GetStatistics().Ledger;
        Assert.Equal((1, 1, 0), (ledger.Submitted, ledger.Failed, ledger.InFlight));
    }

    [Fact]
    public async Task TheCapCountsDecompressedBytesSoACompressionBombFailsUnderTheDefaultCap()
    {
        await using var gate = Exec.Http().Build();

        // 64 MiB of zeros: about 64 KiB on the wire, four times the default cap once inflated.
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => gate.SendAsync(
            "p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("gzip/67108864")))).WithTimeout();

        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
        Assert.Contains("16777216", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResponsesWithinTheCapArriveWholeAndDecompressed()
    {
        await using var gate = Exec.Http().WithMaxResponseContentLength(200_000).Build();

        using var plain = await gate.SendAsync("p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("bytes/200000"))).WithTimeout();
        using var inflated = await gate.SendAsync("p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("gzip/150000"))).WithTimeout();

        var plainBytes = await plain.Content.ReadAsByteArrayAsync();
        Assert.Equal(200_000, plainBytes.Length);
        Assert.All(plainBytes, b => Assert.Equal((byte)'x', b));
        Assert.Equal(200_000, plain.Content.Headers.ContentLength);
        var inflatedBytes = await inflated.Content.ReadAsByteArrayAsync();
        Assert.Equal(150_000, inflatedBytes.Length);
        Assert.All(inflatedBytes, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task ARedirectToAnotherHostIsNotFollowedAndComesBackAsItIs()
    {
        await using var gate = Exec.Http().Build();
        var target = _other.Url("ok/1");

        using var response = await gate.SendAsync(
            "p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("redirect?to=" + Uri.EscapeDataString(target.ToString())))).WithTimeout();

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(target, response.Headers.Location);
        Assert.Equal(0, _other.Hits("/ok/1"));
        Assert.Equal(1, gate.GetStatistics().Admitted);
    }

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    public async Task ASameHostRedirectIsFollowedWithinTheSameCall(int status)
    {
        await using var gate = Exec.Http().Build();

        using var response = await gate.SendAsync(
            "p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url($"redirect?status={status}&to=/ok/2"))).WithTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok:2", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, _server.Hits("/ok/2"));
        var stats = gate.GetStatistics();
        Assert.Equal((1, 1L), (stats.Ledger.Succeeded, stats.Admitted));
    }

    [Fact]
    public async Task WithRedirectsOffEvenASameHostRedirectComesBack()
    {
        await using var gate = Exec.Http().WithRedirectPolicy(HttpRedirectPolicy.None).Build();

        using var response = await gate.SendAsync("p", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("redirect?to=/ok/3"))).WithTimeout();

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(0, _server.Hits("/ok/3"));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(1024L * 1024 * 1024 + 1)]
    public void AResponseCapThatIsNotPositiveOrWouldExhaustMemoryIsRejected(long cap)
    {
        var error = Assert.Throws<ArgumentException>(() => new HttpGate(new HttpGateOptions { MaxResponseContentLength = cap }));
        Assert.Contains("MaxResponseContentLength", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUndefinedRedirectPolicyIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new HttpGate(new HttpGateOptions { RedirectPolicy = (HttpRedirectPolicy)7 }));
        Assert.Contains("RedirectPolicy", error.Message, StringComparison.Ordinal);
    }
}
