namespace ParallelExec.Analyzers.Tests.Verification;

/// <summary>
/// A loop that collects one result per item, and its fix. Shared by the verifier test (the fix is exactly this) and
/// the run test (this fixed code, compiled against the real ParallelExec and run, keeps the input order).
/// </summary>
internal static class OrderedFetch
{
    private const string Client = """

        public sealed class Client
        {
            // Later items answer sooner, so a fix that collected in completion order would reverse the list.
            public async Task<string> FetchAsync(string url)
            {
                await Task.Delay(60 - (10 * int.Parse(url.Substring(4))));
                return "page of " + url;
            }
        }
        """;

    public const string Source = """
        using System.Collections.Generic;
        using System.Threading.Tasks;

        public static class Crawler
        {
            public static async Task<List<string>> FetchAllAsync(Client client, IReadOnlyList<string> urls)
            {
                var pages = new List<string>();
                {|PEX002:foreach (var url in urls)|}
                {
                    pages.Add(await client.FetchAsync(url));
                }

                return pages;
            }
        }
        """ + Client;

    public const string FixedSource = """
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using ParallelExec;

        public static class Crawler
        {
            public static async Task<List<string>> FetchAllAsync(Client client, IReadOnlyList<string> urls)
            {
                var pages = new List<string>();
                pages.AddRange(await Exec.ForEachAsync(urls, /* maxDegreeOfParallelism */ 8, async (url, _) => await client.FetchAsync(url)));

                return pages;
            }
        }
        """ + Client;
}
