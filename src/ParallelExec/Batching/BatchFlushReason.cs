namespace ParallelExec.Batching;

/// <summary>Why a batch was closed and handed to the bulk handler; the value of the flush-reason metric tag.</summary>
internal enum BatchFlushReason
{
    Size = 0,
    Time = 1,
    Forced = 2,
    Dispose = 3,
}
