namespace ParallelExec.Benchmarks.Chart;

/// <summary>
/// One ParallelExec method of one benchmark case, against the sequential way and the fastest peer of the same case:
/// each ratio per run (above 1 means ParallelExec is faster), and the relative spread of a single run from its
/// standard deviations.
/// </summary>
internal sealed record Comparison(string Label, double[] SpeedUps, double[] VersusBestPeer, string? BestPeer, double SingleRunSpread)
{
    /// <summary>The comparisons a report file supports, one per ParallelExec method and parameter set.</summary>
    public static IEnumerable<Comparison> From(string benchmark, List<List<Measurement>> runs)
    {
        var cases = runs.SelectMany(run => run.Select(row => row.Parameters)).Distinct();
        foreach (var parameters in cases)
        {
            var ours = runs.SelectMany(run => run.Where(row => row.Parameters == parameters && IsOurs(row.Method)).Select(row => row.Method)).Distinct();
            foreach (var method in ours)
            {
                var speedUps = new List<double>();
                var versusPeer = new List<double>();
                string? bestPeerName = null;
                var spread = 0.0;
                foreach (var run in runs)
                {
                    var rows = run.Where(row => row.Parameters == parameters).ToList();
                    var mine = rows.FirstOrDefault(row => row.Method == method);
                    if (mine is null)
                    {
                        continue;
                    }

                    var sequential = rows.FirstOrDefault(row => row.Method == "Sequential");
                    if (sequential is not null)
                    {
                        speedUps.Add(sequential.MeanNs / mine.MeanNs);
                        spread = Math.Max(spread, RelativeSpread(sequential, mine));
                    }

                    var bestPeer = rows.Where(row => IsPeer(row.Method)).MinBy(row => row.MeanNs);
                    if (bestPeer is not null)
                    {
                        versusPeer.Add(bestPeer.MeanNs / mine.MeanNs);
                        bestPeerName = bestPeer.Method;
                        spread = Math.Max(spread, RelativeSpread(bestPeer, mine));
                    }
                }

                if (speedUps.Count == 0 && versusPeer.Count == 0)
                {
                    continue;
                }

                var label = benchmark.Replace("Benchmarks", "", StringComparison.Ordinal)
                    + (parameters.Length > 0 ? " (" + parameters + ")" : "")
                    + (method == "ParallelExec" ? "" : " " + method["ParallelExec".Length..].TrimStart('_'));
                yield return new Comparison(label, [.. speedUps], [.. versusPeer], bestPeerName, spread);
            }
        }
    }

    // Not a peer: the baseline, and a computed bound (Ideal_CriticalPath: the critical path's length, no scheduler at all).
    private static bool IsPeer(string method) =>
        method != "Sequential" && !IsOurs(method) && !method.StartsWith("Ideal", StringComparison.Ordinal);

    private static bool IsOurs(string method) => method.StartsWith("ParallelExec", StringComparison.Ordinal);

    // The relative standard deviation of a ratio of two independent means, to first order.
    private static double RelativeSpread(Measurement a, Measurement b) =>
        Math.Sqrt(Math.Pow(a.StdDevNs / a.MeanNs, 2) + Math.Pow(b.StdDevNs / b.MeanNs, 2));
}
