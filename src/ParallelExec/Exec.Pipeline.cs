using ParallelExec.Pipelines;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>
    /// Starts building a pipeline: linked stages (<c>Select</c>, <c>SelectMany</c>, <c>Where</c>, <c>Batch</c>,
    /// <c>Unbatch</c>, <c>Tap</c>) ending in a sink (<c>ForEach</c>, <c>ToChannel</c>, <c>ToAsyncEnumerable</c>), with
    /// backpressure from the last stage to the source and a ledger per stage.
    /// </summary>
    /// <typeparam name="TIn">The type of the source's items.</typeparam>
    /// <returns>A single-use builder; each stage method returns the next one.</returns>
    /// <example>
    /// <code>
    /// var result = await Exec.Pipeline&lt;string&gt;()
    ///     .Select(line => Order.Parse(line))
    ///     .Select(async (order, ct) => await EnrichAsync(order, ct), stage => stage.WithMaxDegreeOfParallelism(8))
    ///     .Batch(100, TimeSpan.FromSeconds(1))
    ///     .ForEach(async (batch, ct) => await db.InsertAsync(batch, ct))
    ///     .RunAsync(File.ReadLines("orders.csv"));
    /// </code>
    /// </example>
    public static PipelineBuilder<TIn, TIn> Pipeline<TIn>() => new(new PipelineOptions(), []);
}
