using ParallelExec.Testing;
using StackExchange.Redis;

namespace ParallelExec.Redis.Tests;

/// <summary>
/// The redis-server every test of the <c>redis</c> collection shares: started by this test run on a free loopback
/// port with no persistence (installed first by tools/redis/install.sh when missing), killed at the end. Tests keep
/// apart by key prefix, stream and channel names of their own.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private RedisServerProcess? _server;
    private ConnectionMultiplexer? _connection;

    /// <summary>Gets the configuration string of the shared server.</summary>
    public string Configuration => Server.Configuration;

    internal RedisServerProcess Server => _server ?? throw new InvalidOperationException("The Redis fixture has not started.");

    /// <summary>Gets a connection the tests may use to look at the server (never closed by a test).</summary>
    public IConnectionMultiplexer Connection => _connection ?? throw new InvalidOperationException("The Redis fixture has not started.");

    public async Task InitializeAsync()
    {
        _server = await RedisServerProcess.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(Configuration + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Reads how many times the server has run <paramref name="command"/> (INFO commandstats), to count round trips by the server's own books.</summary>
    public async Task<long> CommandCallsAsync(string command)
    {
        var server = Connection.GetServer(Connection.GetEndPoints()[0]);
        var info = await server.InfoRawAsync("commandstats");
        var prefix = "cmdstat_" + command.ToLowerInvariant() + ":calls=";
        var line = info!.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[prefix.Length..line.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A prefix no other test uses.</summary>
    public static string UniquePrefix(string what) => $"test:{what}:{Guid.NewGuid():N}:";
}

/// <summary>The tests that share one redis-server.</summary>
[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis";
}
