using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>The field names of a queue entry and of a bus stream entry.</summary>
internal static class RedisStreamFields
{
    public static readonly RedisValue Id = "id";
    public static readonly RedisValue Data = "data";
    public static readonly RedisValue TraceParent = "tp";
    public static readonly RedisValue TraceState = "ts";
    public static readonly RedisValue Origin = "origin";
    public static readonly RedisValue Error = "error";
    public static readonly RedisValue Deliveries = "deliveries";
    public static readonly RedisValue SourceEntry = "entry";

    public static RedisValue Get(StreamEntry entry, RedisValue name)
    {
        foreach (var value in entry.Values)
        {
            if (value.Name == name)
            {
                return value.Value;
            }
        }

        return RedisValue.Null;
    }
}
