namespace ParallelExec.Agents;

/// <content>
/// Which agent serves a request: its affinity binding, else the load-balancing strategy (least busy, round robin, power
/// of two choices); and the accounting of an agent's capacity when a request takes it.
/// </content>
public sealed partial class AgentPool<TAgent>
{
    // Guarded by _gate. _agents are the live agents (idle or busy); an agent removed (crashed, recycled) leaves the list
    // and, while requests still hold it, counts in _retiringBusy. _freeCapacity is the sum of the live agents' free units.
    private readonly List<Slot> _agents = [];
    private readonly Dictionary<string, Slot> _affinity = new(StringComparer.Ordinal);
    private int _idle;
    private int _busy;
    private int _retiringBusy;
    private int _freeCapacity;
    private int _roundRobin;

    private Slot? PickLocked(string? affinityKey)
    {
        if (affinityKey is not null && _affinity.TryGetValue(affinityKey, out var bound))
        {
            return bound.InFlight < _perAgent ? bound : null;
        }

        if (_freeCapacity == 0)
        {
            return null;
        }

        var chosen = _options.LoadBalancing switch
        {
            LoadBalancingStrategy.RoundRobin => PickRoundRobinLocked(),
            LoadBalancingStrategy.PowerOfTwoChoices => PickPowerOfTwoLocked(),
            _ => PickLeastBusyLocked(),
        };

        if (chosen is not null && affinityKey is not null)
        {
            BindLocked(affinityKey, chosen);
        }

        return chosen;
    }

    private Slot? PickLeastBusyLocked()
    {
        Slot? best = null;
        foreach (var slot in _agents)
        {
            if (slot.InFlight < _perAgent && (best is null || IsLessBusy(slot, best)))
            {
                best = slot;
            }
        }

        return best;
    }

    private Slot? PickRoundRobinLocked()
    {
        var count = _agents.Count;
        for (var i = 0; i < count; i++)
        {
            var index = (_roundRobin + i) % count;
            var slot = _agents[index];
            if (slot.InFlight < _perAgent)
            {
                _roundRobin = (index + 1) % count;
                return slot;
            }
        }

        return null;
    }

    private Slot? PickPowerOfTwoLocked()
    {
        var count = _agents.Count;
        if (count <= 2)
        {
            return PickLeastBusyLocked();
        }

        var first = Random.Shared.Next(count);
        var second = Random.Shared.Next(count - 1);
        if (second >= first)
        {
            second++;
        }

        var a = _agents[first];
        var b = _agents[second];
        var aFree = a.InFlight < _perAgent;
        var bFree = b.InFlight < _perAgent;
        if (aFree && bFree)
        {
            return IsLessBusy(b, a) ? b : a;
        }

        if (aFree)
        {
            return a;
        }

        // Neither draw has room: fall back to a scan rather than make the caller wait while another agent is free.
        return bFree ? b : PickLeastBusyLocked();
    }

    private static bool IsLessBusy(Slot candidate, Slot current) =>
        candidate.InFlight < current.InFlight || (candidate.InFlight == current.InFlight && candidate.Uses < current.Uses);

    private void BindLocked(string affinityKey, Slot slot)
    {
        if (_affinity.Count >= _options.MaxAffinityKeys)
        {
            // Bounded memory: forget one binding. A forgotten key simply binds anew on its next request.
            foreach (var (key, owner) in _affinity)
            {
                _affinity.Remove(key);
                owner.Keys?.Remove(key);
                break;
            }
        }

        _affinity[affinityKey] = slot;
        (slot.Keys ??= new HashSet<string>(StringComparer.Ordinal)).Add(affinityKey);
    }

    private void TakeLocked(Slot slot)
    {
        if (slot.InFlight == 0)
        {
            _idle--;
            _busy++;
        }

        slot.InFlight++;
        slot.Uses++;
        _freeCapacity--;
        if (_options.MaxUses > 0 && slot.Uses >= _options.MaxUses)
        {
            // Its last use is taken: no new request may pick it, and it stops once its requests finish.
            RemoveLocked(slot, crashed: false);
        }
    }

    /// <summary>A live agent and its load; guarded by _gate.</summary>
    private sealed class Slot(TAgent agent)
    {
        public readonly TAgent Agent = agent;
        public int InFlight;
        public int Uses;
        public long LastReleased;
        public bool Removed;
        public bool Retired;
        public HashSet<string>? Keys;
    }
}
