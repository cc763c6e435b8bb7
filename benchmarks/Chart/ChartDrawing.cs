using System.Globalization;
using ScottPlot;

namespace ParallelExec.Benchmarks.Chart;

/// <summary>Draws the comparisons as horizontal bars on a log-10 axis: 1x in the middle, faster to the right.</summary>
internal static class ChartDrawing
{
    private static readonly double[] Ticks = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300];

    public static void Draw(IReadOnlyList<Comparison> comparisons, string output)
    {
        var plot = new Plot();
        var speedUp = new List<Bar>();
        var versusPeer = new List<Bar>();
        var runs = new List<Coordinates>();
        var speedUpColor = Colors.SteelBlue;
        var peerColor = Colors.DarkOrange;
        for (var i = 0; i < comparisons.Count; i++)
        {
            // The first comparison at the top.
            var position = comparisons.Count - 1 - i;
            AddBar(speedUp, runs, comparisons[i].SpeedUps, comparisons[i].SingleRunSpread, position + 0.2, speedUpColor);
            AddBar(versusPeer, runs, comparisons[i].VersusBestPeer, comparisons[i].SingleRunSpread, position - 0.2, peerColor);
        }

        var speedUpBars = plot.Add.Bars(speedUp);
        speedUpBars.Horizontal = true;
        speedUpBars.LegendText = "speed-up vs Sequential";
        var peerBars = plot.Add.Bars(versusPeer);
        peerBars.Horizontal = true;
        peerBars.LegendText = "ratio vs the fastest peer (>1: ParallelExec faster)";
        if (runs.Count > 0)
        {
            var markers = plot.Add.Markers(runs.ToArray(), MarkerShape.OpenCircle, 5, Colors.Black);
            markers.LegendText = "single runs";
        }

        var even = plot.Add.VerticalLine(0, 1, Colors.Black);
        even.LinePattern = LinePattern.Dashed;

        plot.Axes.Left.SetTicks(
            Enumerable.Range(0, comparisons.Count).Select(i => (double)(comparisons.Count - 1 - i)).ToArray(),
            comparisons.Select(c => c.Label).ToArray());
        plot.Axes.Bottom.SetTicks(Ticks.Select(Math.Log10).ToArray(), Ticks.Select(t => t.ToString("0.###", CultureInfo.InvariantCulture) + "x").ToArray());
        plot.Axes.SetLimitsX(Math.Log10(Ticks[0]), Math.Log10(Ticks[^1]));
        plot.Axes.SetLimitsY(-0.8, comparisons.Count - 0.2);
        plot.Axes.Bottom.Label.Text = "ParallelExec's ratio, log scale (error bars: spread of the runs, or ±1 standard deviation of a single run)";
        plot.Title("ParallelExec benchmarks: speed-up vs the sequential way and vs the fastest peer");
        plot.ShowLegend(Alignment.LowerRight);
        plot.Grid.YAxisStyle.IsVisible = false;

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        plot.SavePng(output, 1400, 160 + (comparisons.Count * 30));
    }

    private static void AddBar(List<Bar> bars, List<Coordinates> runs, double[] ratios, double singleRunSpread, double position, Color color)
    {
        if (ratios.Length == 0)
        {
            return;
        }

        var logs = ratios.Select(Math.Log10).Order().ToArray();
        var median = logs.Length % 2 == 1 ? logs[logs.Length / 2] : (logs[(logs.Length / 2) - 1] + logs[logs.Length / 2]) / 2;
        // Several runs: the widest distance from the median to a run. One run: its standard deviations, in log-10 units.
        var error = logs.Length > 1
            ? Math.Max(logs[^1] - median, median - logs[0])
            : Math.Log10(1 + singleRunSpread);
        bars.Add(new Bar { Position = position, Value = median, ValueBase = 0, Error = error, Size = 0.38, FillColor = color });
        if (logs.Length > 1)
        {
            runs.AddRange(logs.Select(log => new Coordinates(log, position)));
        }
    }
}
