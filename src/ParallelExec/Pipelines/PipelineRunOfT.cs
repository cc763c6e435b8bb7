using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ParallelExec.Pipelines;

/// <summary>A running pipeline whose last stage's outputs are read by the caller (<see cref="PipelineBuilder{TIn, T}.ToAsyncEnumerable"/>).</summary>
/// <typeparam name="TOut">The output type.</typeparam>
public sealed class PipelineRun<TOut> : PipelineRun
{
    internal PipelineRun(PipelineOptions options, IReadOnlyList<StageSpec> plan, int outputCapacity)
        : base(options, plan)
    {
        var last = LastStage;
        var output = new OutputTarget<TOut>(last, outputCapacity);
        plan[^1].Connect(last, output);
        Output = output.Reader;
    }

    /// <summary>
    /// Gets the outputs, as a bounded channel: reading slowly slows the pipeline. It completes when the last stage has
    /// ended; check <see cref="PipelineRun.Result"/> then for failures and drops.
    /// </summary>
    public ChannelReader<TOut> Output { get; }

    /// <summary>
    /// Reads every output, then throws if the run did not complete (<see cref="PipelineResult.ThrowIfFailed"/>).
    /// Leaving the loop early cancels the run: nothing would read what is left.
    /// </summary>
    /// <param name="cancellationToken">Cancels the reading, and the run with it.</param>
    /// <returns>The outputs, in the order the last stage passes them on.</returns>
    /// <exception cref="PipelineFailedException">A failure stopped the run.</exception>
    /// <exception cref="OperationCanceledException">The run, or the reading, was cancelled.</exception>
    public async IAsyncEnumerable<TOut> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var finished = false;
        try
        {
            while (await Output.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (Output.TryRead(out var item))
                {
                    yield return item;
                }
            }

            finished = true;
        }
        finally
        {
            if (!finished)
            {
                Cancel(DropReason.Cancelled, PipelineOutcome.Cancelled);
            }
        }

        (await Result.ConfigureAwait(false)).ThrowIfFailed();
    }
}
