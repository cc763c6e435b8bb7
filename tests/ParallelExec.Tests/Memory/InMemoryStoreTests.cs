using Microsoft.Extensions.Time.Testing;
using ParallelExec.Memory;

namespace ParallelExec.Tests.Memory;

public sealed class InMemoryStoreTests : MemoryStoreContractTests
{
    protected override IMemoryStore CreateStore(TimeProvider timeProvider) =>
        new InMemoryStore(new InMemoryStoreOptions { TimeProvider = timeProvider });

    [Fact]
    public async Task RemoveExpired_sweeps_only_expired_entries()
    {
        var store = new InMemoryStore(new InMemoryStoreOptions { TimeProvider = Time });
        await store.SetAsync("ns", "a", Bytes("a"), TimeSpan.FromMinutes(1));
        await store.SetAsync("ns", "b", Bytes("b"));
        Time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(2, store.Count);
        Assert.Equal(1, store.RemoveExpired());
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void A_null_time_provider_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new InMemoryStore(new InMemoryStoreOptions { TimeProvider = null! }));
        Assert.Equal("Invalid InMemoryStoreOptions: TimeProvider = null: must not be null. (Parameter 'TimeProvider')", ex.Message);
    }
}
