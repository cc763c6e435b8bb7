namespace ParallelExec.Net;

/// <summary>Which redirects <see cref="HttpGate.SendAsync"/> follows (<see cref="HttpGateOptions.RedirectPolicy"/>).</summary>
public enum HttpRedirectPolicy
{
    /// <summary>None: a redirect response (3xx with <c>Location</c>) comes back to the caller as it is.</summary>
    None,

    /// <summary>
    /// Redirects to the same scheme, host and port only (at most 10 in a row), each charged to the call's provider. A
    /// redirect elsewhere (another host, another port, https to http) comes back to the caller as it is: it would send
    /// the request, and its credentials, to a party the provider's limits were never meant for.
    /// </summary>
    SameHost,
}
