using System.Globalization;

namespace ParallelExec.Benchmarks.Chart;

/// <summary>One row of a BenchmarkDotNet table: the method, its parameter values, its mean and standard deviation in nanoseconds.</summary>
internal sealed record Measurement(string Method, string Parameters, double MeanNs, double StdDevNs);

/// <summary>
/// Reads the GitHub-markdown reports BenchmarkDotNet writes (the files committed in benchmarks/results). Each table in a
/// file is one run; a file that holds several tables of the same benchmark holds several runs.
/// </summary>
internal static class ResultsReport
{
    /// <summary>The runs of one report file, each a list of its rows.</summary>
    public static List<List<Measurement>> Read(string path)
    {
        var runs = new List<List<Measurement>>();
        List<Measurement>? current = null;
        string[]? header = null;
        foreach (var line in File.ReadLines(path))
        {
            if (!line.StartsWith('|'))
            {
                // A table ends at the first line that is not a row.
                if (current is { Count: > 0 })
                {
                    runs.Add(current);
                }

                current = null;
                header = null;
                continue;
            }

            var cells = line.Trim().Trim('|').Split('|').Select(cell => cell.Replace("**", "", StringComparison.Ordinal).Trim()).ToArray();
            if (header is null)
            {
                header = cells;
                current = [];
                continue;
            }

            // The separator under the header, and the empty row BenchmarkDotNet puts between parameter groups.
            if (cells.All(cell => cell.All(c => c is '-' or ':')))
            {
                continue;
            }

            var row = ToMeasurement(header, cells);
            if (row is not null)
            {
                current!.Add(row);
            }
        }

        if (current is { Count: > 0 })
        {
            runs.Add(current);
        }

        return runs;
    }

    private static Measurement? ToMeasurement(string[] header, string[] cells)
    {
        var method = Array.IndexOf(header, "Method");
        var mean = Array.IndexOf(header, "Mean");
        var stdDev = Array.IndexOf(header, "StdDev");
        if (method < 0 || mean < 0 || cells.Length != header.Length)
        {
            return null;
        }

        // The columns between Method and Mean are the benchmark's parameters (Calls, Agents, Shape...).
        var parameters = string.Join(", ", Enumerable.Range(method + 1, mean - method - 1).Select(i => header[i] + "=" + cells[i]));
        var meanNs = ToNanoseconds(cells[mean]);
        if (meanNs is null or <= 0)
        {
            return null;
        }

        var stdDevNs = stdDev >= 0 ? ToNanoseconds(cells[stdDev]) ?? 0 : 0;
        return new Measurement(cells[method], parameters, meanNs.Value, stdDevNs);
    }

    /// <summary>"1,273.82 ms" as nanoseconds; null when the cell is not a duration (NA, a failed benchmark).</summary>
    internal static double? ToNanoseconds(string cell)
    {
        var parts = cell.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || !double.TryParse(parts[0], NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        double? scale = parts[1] switch
        {
            "ns" => 1,
            "μs" or "us" or "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            _ => null,
        };
        return value * scale;
    }
}
