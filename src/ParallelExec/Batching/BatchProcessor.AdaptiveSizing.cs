namespace ParallelExec.Batching;

// Adaptive batch size (BatchProcessorOptions.AdaptiveBatchSize): after each batch, under the lock, the size at which the
// open batch is flushed moves toward what the handler can take within TargetLatency.
public sealed partial class BatchProcessor<TItem, TResult>
{
    /// <summary>
    /// Moves the batch size toward the number of items a handler call can take within the target latency, assuming
    /// latency grows with the batch size; halfway steps keep it from oscillating.
    /// </summary>
    private void AdaptLocked(int count, TimeSpan latency)
    {
        var ideal = latency <= TimeSpan.Zero
            ? _options.MaxBatchSize
            : count * (_options.TargetLatency.Ticks / (double)latency.Ticks);
        ideal = Math.Min(ideal, _options.MaxBatchSize);
        var halfway = (_batchSize + ideal) / 2;

        // Round toward the ideal so that the last step lands on it instead of stopping one short.
        var size = ideal < _batchSize ? Math.Floor(halfway) : Math.Ceiling(halfway);
        _batchSize = Math.Clamp((int)size, _options.MinBatchSize, _options.MaxBatchSize);
    }
}
