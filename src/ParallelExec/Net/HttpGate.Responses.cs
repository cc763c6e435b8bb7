using System.Buffers;
using System.Globalization;
using System.Net;

namespace ParallelExec.Net;

/// <summary>
/// What <see cref="SendAsync"/> does with a response before its caller sees it: follows the redirects
/// <see cref="HttpGateOptions.RedirectPolicy"/> allows, and buffers the content within
/// <see cref="HttpGateOptions.MaxResponseContentLength"/> (counted after decompression), so that a hostile or broken
/// server cannot make the host buffer gigabytes.
/// </summary>
public sealed partial class HttpGate
{
    private const int MaxRedirects = 10;

    /// <summary>Sends one request, following the allowed redirects, and buffers the final response within the cap.</summary>
    private async ValueTask<HttpResponseMessage> SendBoundedAsync(string provider, Func<HttpRequestMessage> requestFactory, CancellationToken cancellationToken)
    {
        var request = requestFactory() ?? throw new InvalidOperationException("The request factory returned null.");
        for (var redirects = 0; ; redirects++)
        {
            HttpResponseMessage response;
            try
            {
                response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                request.Dispose();
            }

            try
            {
                if (redirects < MaxRedirects && FollowedRedirect(request, response) is { } target)
                {
                    request = CreateRedirectedRequest(requestFactory, request.Method, response.StatusCode, target);
                    response.Dispose();
                    continue;
                }

                if (!IsThrottle(response, out _))
                {
                    await BufferContentAsync(provider, request.RequestUri, response, cancellationToken).ConfigureAwait(false);
                }

                return response;
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
    }

    /// <summary>The target of a redirect the policy follows, or <see langword="null"/> to hand the response back as it is.</summary>
    private Uri? FollowedRedirect(HttpRequestMessage request, HttpResponseMessage response)
    {
        if (_options.RedirectPolicy == HttpRedirectPolicy.None
            || response.StatusCode is not (HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
                or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect)
            || response.Headers.Location is not { } location
            || request.RequestUri is not { IsAbsoluteUri: true } from)
        {
            return null;
        }

        var target = location.IsAbsoluteUri ? location : new Uri(from, location);
        return string.Equals(target.Scheme, from.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(target.IdnHost, from.IdnHost, StringComparison.OrdinalIgnoreCase)
            && target.Port == from.Port
            ? target
            : null;
    }

    private static HttpRequestMessage CreateRedirectedRequest(Func<HttpRequestMessage> requestFactory, HttpMethod method, HttpStatusCode status, Uri target)
    {
        // A fresh request from the factory (a sent request cannot be sent again, nor its content read twice). 303, and
        // 301/302 after anything but GET or HEAD, become a GET without content, as browsers and HttpClient do.
        var next = requestFactory() ?? throw new InvalidOperationException("The request factory returned null.");
        next.RequestUri = target;
        if (status == HttpStatusCode.SeeOther
            || (status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found && method != HttpMethod.Get && method != HttpMethod.Head))
        {
            next.Method = HttpMethod.Get;
            next.Content?.Dispose();
            next.Content = null;
        }

        return next;
    }

    /// <summary>Reads the content whole, failing as soon as it passes the cap; the response then holds it in memory.</summary>
    private async ValueTask BufferContentAsync(string provider, Uri? uri, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var limit = _options.MaxResponseContentLength;
        var content = response.Content;
        var declared = content.Headers.ContentLength;
        if (declared > limit)
        {
            throw ContentTooLarge(provider, uri, limit, $"declares {declared.Value.ToString(CultureInfo.InvariantCulture)} bytes");
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffered = new MemoryStream((int)Math.Min(declared ?? 0, 1024 * 1024));
            var chunk = ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    // Counted as read, after any decompression: a small compressed body cannot inflate past the cap.
                    if (buffered.Length + read > limit)
                    {
                        throw ContentTooLarge(provider, uri, limit, "is longer");
                    }

                    buffered.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            var replacement = new ByteArrayContent(buffered.GetBuffer(), 0, (int)buffered.Length);
            foreach (var header in content.Headers)
            {
                if (!string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    replacement.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            response.Content = replacement;
            content.Dispose();
        }
    }

    private static HttpRequestException ContentTooLarge(string provider, Uri? uri, long limit, string what) => new(
        HttpRequestError.ConfigurationLimitExceeded,
        $"The response of provider '{provider}' ({uri}) {what} than HttpGateOptions.MaxResponseContentLength allows " +
        $"({limit.ToString(CultureInfo.InvariantCulture)} bytes, counted after decompression). Raise the limit if such responses are expected.");

    /// <summary>Whether a response is a throttling answer: 429, or 503 with <c>Retry-After</c>; and the pause it asks for,
    /// read against the gate's clock. Also used by ParallelExec.Hosting's <c>IHttpClientFactory</c> handler.</summary>
    internal bool IsThrottle(HttpResponseMessage response, out TimeSpan? retryAfter)
    {
        var status = response.StatusCode;
        var header = response.Headers.RetryAfter;
        if (status == HttpStatusCode.TooManyRequests || (status == HttpStatusCode.ServiceUnavailable && header is not null))
        {
            retryAfter = header switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - _time.GetUtcNow(),
                _ => null,
            };
            if (retryAfter < TimeSpan.Zero)
            {
                retryAfter = TimeSpan.Zero;
            }

            return true;
        }

        retryAfter = null;
        return false;
    }
}
