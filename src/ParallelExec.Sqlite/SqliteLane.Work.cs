namespace ParallelExec.Sqlite;

/// <summary>One operation waiting for a lane: claimed once, run (perhaps twice, see <see cref="LaneWork.Execute"/>), then published once.</summary>
internal sealed partial class SqliteLane
{
    private abstract class LaneWork(LaneGroup group)
    {
        // 0 waiting, 1 started, 2 cancelled while waiting: the first transition wins.
        private int _state;

        public LaneGroup Group { get; } = group;

        /// <summary>Gets a value indicating whether the lane has claimed the operation (it will be published by the lane).</summary>
        public bool IsStarted => Volatile.Read(ref _state) == 1;

        /// <summary>Gets the exception of the last <see cref="Execute"/>; null when it succeeded.</summary>
        public abstract Exception? Error { get; }

        /// <summary>Claims the operation for running; false when it was cancelled while waiting (it has ended already).</summary>
        public bool TryStart()
        {
            if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
            {
                return false;
            }

            OnStarted();
            return true;
        }

        /// <summary>Runs the body on the lane's connection and keeps its outcome without publishing it. Called again
        /// only after the transaction of the first run was rolled back, so its effects apply once.</summary>
        public abstract void Execute(SqliteLane lane);

        /// <summary>Ends the operation with the outcome of the last <see cref="Execute"/>.</summary>
        public abstract void Publish();

        /// <summary>Ends a started operation with <paramref name="exception"/> without running its body.</summary>
        public abstract void Fail(Exception exception);

        /// <summary>Runs the operation alone: claim, execute, publish.</summary>
        public void Run(SqliteLane lane)
        {
            if (TryStart())
            {
                Execute(lane);
                Publish();
            }
        }

        protected bool TryCancel() => Interlocked.CompareExchange(ref _state, 2, 0) == 0;

        protected abstract void OnStarted();
    }

    private sealed class LaneWork<TResult> : LaneWork
    {
        private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Func<SqliteStatements, TResult> _body;
        private readonly CancellationTokenRegistration _registration;
        private TResult? _result;
        private Exception? _error;

        public LaneWork(Func<SqliteStatements, TResult> body, LaneGroup group, CancellationToken cancellationToken)
            : base(group)
        {
            _body = body;
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static (state, token) =>
                {
                    var work = (LaneWork<TResult>)state!;
                    if (work.TryCancel())
                    {
                        work._completion.TrySetCanceled(token);
                    }
                }, this);
            }
        }

        public Task<TResult> Task => _completion.Task;

        public override Exception? Error => _error;

        public override void Execute(SqliteLane lane)
        {
            try
            {
                _result = _body(lane.Connection());
                _error = null;
            }
            catch (Exception ex)
            {
                // Routed to the operation's caller, who awaits this task; the lane itself carries on.
                _result = default;
                _error = ex;
            }
        }

        public override void Publish()
        {
            if (_error is { } error)
            {
                _completion.TrySetException(error);
            }
            else
            {
                _completion.TrySetResult(_result!);
            }
        }

        public override void Fail(Exception exception)
        {
            _error = exception;
            Publish();
        }

        protected override void OnStarted() => _registration.Dispose();
    }
}
