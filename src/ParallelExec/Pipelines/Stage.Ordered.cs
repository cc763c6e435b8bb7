namespace ParallelExec.Pipelines;

/// <summary>
/// Ordered stages: items are numbered as they are read, and their outputs are passed on in that order through a ring
/// of <c>window</c> slots. A worker takes a window permit before it reads an item and the permit is given back when
/// that item's outputs have been passed on, so at most <c>window</c> items are between reading and passing on: the
/// reorder buffer is bounded, and a slow item holds back at most a window's worth of later ones.
/// </summary>
/// <remarks>
/// <b>Locking.</b> <see cref="_orderLock"/> guards the numbering (<see cref="_nextSeq"/>, taken together with the read so
/// numbers follow queue order), the slots, <see cref="_nextEmit"/> and <see cref="_emitting"/>. One worker at a time is
/// the emitter (the one that completed the item at <see cref="_nextEmit"/>); it writes outside the lock, in order,
/// until it finds the next slot not ready. No user code and no await runs under the lock.
/// </remarks>
internal abstract partial class Stage<TIn, TOut>
{
    private readonly object _orderLock = new();
    private ReorderWindowPermits? _window;
    private Slot[] _slots = [];
    private long _nextSeq;
    private long _nextEmit;
    private bool _emitting;

    private struct Slot
    {
        public bool Ready;

        // The item failed or was dropped and is already counted: it holds its place in the order, with no output.
        public bool Counted;
        public TIn Item;
        public StageResult<TOut> Result;
    }

    private void InitializeWindow(int window)
    {
        _window = new ReorderWindowPermits(window, Run.Token);
        _slots = new Slot[window];
    }

    /// <summary>Stops listening to the run's token once the stage's workers are done (an unordered stage has no window).</summary>
    private void DisposeWindow() => _window?.Dispose();

    private async Task OrderedWorkerAsync()
    {
        var reader = Input.Reader;
        var token = Run.Token;
        var waiter = new ReorderWindowPermits.Waiter();
        try
        {
            while (true)
            {
                await _window!.WaitAsync(waiter).ConfigureAwait(false);
                TIn item;
                long seq;
                while (true)
                {
                    bool read;
                    lock (_orderLock)
                    {
                        read = reader.TryRead(out item!);
                        seq = read ? _nextSeq++ : 0;
                    }

                    if (read)
                    {
                        break;
                    }

                    if (!await reader.WaitToReadAsync(token).ConfigureAwait(false))
                    {
                        _window.Release();
                        ExitWorker();
                        return;
                    }
                }

                var span = StartItemSpan();
                var started = StartTiming();
                var counted = false;
                StageResult<TOut> result = default;
                try
                {
                    var pending = ProcessAsync(item, token);
                    result = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                    EndSpan(span, started);
                }
                catch (Exception exception)
                {
                    EndFailed(item, exception, span, started);
                    counted = true;
                }

                await PassOnInOrderAsync(seq, item, result, counted, token).ConfigureAwait(false);
                if (OverTarget && TryRetire())
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run was cancelled: RunAsync drops what is queued or waits in the window.
        }

        ExitWorker();
    }

    /// <summary>Stores an item's result in its slot; the worker that completes the next item in order passes on every ready one.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PassOnInOrderAsync(long seq, TIn item, StageResult<TOut> result, bool counted, CancellationToken token)
    {
        lock (_orderLock)
        {
            ref var slot = ref _slots[seq % _slots.Length];
            slot.Ready = true;
            slot.Counted = counted;
            slot.Item = item;
            slot.Result = result;
            if (_emitting || seq != _nextEmit)
            {
                return;
            }

            _emitting = true;
        }

        while (true)
        {
            Slot next;
            lock (_orderLock)
            {
                ref var slot = ref _slots[_nextEmit % _slots.Length];
                if (!slot.Ready)
                {
                    _emitting = false;
                    return;
                }

                next = slot;
                slot = default;
                _nextEmit++;
            }

            if (!next.Counted)
            {
                await EmitAsync(next.Item, next.Result, token).ConfigureAwait(false);
            }

            _window!.Release();
        }
    }

    /// <summary>After a cancelled run's workers have all ended: drops the completed items that were never passed on.</summary>
    private void DropUnemitted()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            ref var slot = ref _slots[i];
            if (slot.Ready && !slot.Counted)
            {
                ItemCancelled(slot.Item);
            }

            slot = default;
        }
    }
}
