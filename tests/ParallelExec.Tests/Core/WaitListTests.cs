using ParallelExec.Internal;

namespace ParallelExec.Tests.Core;

public class WaitListTests
{
    private sealed class Node(int id) : WaitListNode<Node>
    {
        public int Id { get; } = id;
    }

    private static int[] Ids(WaitList<Node> list)
    {
        var ids = new List<int>();
        for (var node = list.First; node is not null; node = node.Next)
        {
            ids.Add(node.Id);
        }

        return [.. ids];
    }

    [Fact]
    public void KeepsArrivalOrderAndRemovesFromBothEnds()
    {
        var list = new WaitList<Node>();
        foreach (var id in new[] { 1, 2, 3, 4 })
        {
            list.AddLast(new Node(id));
        }

        Assert.Equal([1, 2, 3, 4], Ids(list));
        Assert.Equal(1, list.RemoveFirst()!.Id);
        Assert.Equal(4, list.RemoveLast()!.Id);
        Assert.Equal([2, 3], Ids(list));
        Assert.Equal(2, list.Count);
    }

    [Fact]
    public void RemovingAnyNodeKeepsTheRestLinkedAndASecondRemovalIsRefused()
    {
        var list = new WaitList<Node>();
        var nodes = Enumerable.Range(1, 5).Select(id => new Node(id)).ToArray();
        foreach (var node in nodes)
        {
            list.AddLast(node);
        }

        Assert.True(list.Remove(nodes[2]));
        Assert.False(list.Remove(nodes[2]));
        Assert.False(nodes[2].IsListed);
        Assert.True(list.Remove(nodes[0]));
        Assert.True(list.Remove(nodes[4]));
        Assert.Equal([2, 4], Ids(list));
        Assert.Same(nodes[1], list.First);
        Assert.Same(nodes[3], list.Last);
        Assert.Null(list.First!.Previous);
    }

    [Fact]
    public void ANodeOfAnotherListIsNotRemoved()
    {
        var first = new WaitList<Node>();
        var second = new WaitList<Node>();
        var node = new Node(1);
        first.AddLast(node);

        Assert.False(second.Remove(node));
        Assert.Equal(1, first.Count);
    }

    [Fact]
    public void DetachAllHandsBackTheChainAndEmptiesTheList()
    {
        var list = new WaitList<Node>();
        var nodes = Enumerable.Range(1, 3).Select(id => new Node(id)).ToArray();
        foreach (var node in nodes)
        {
            list.AddLast(node);
        }

        var chain = list.DetachAll();
        var seen = new List<int>();
        for (var node = chain; node is not null; node = node.Next)
        {
            seen.Add(node.Id);
            Assert.False(node.IsListed);
        }

        Assert.Equal([1, 2, 3], seen);
        Assert.Equal(0, list.Count);
        Assert.Null(list.First);
        Assert.Null(list.RemoveFirst());
    }

    [Fact]
    public void ARandomMixOfOperationsMatchesAReferenceList()
    {
        var random = new Random(1234);
        var list = new WaitList<Node>();
        var reference = new List<Node>();
        for (var step = 0; step < 5_000; step++)
        {
            switch (random.Next(4))
            {
                case 0:
                case 1:
                    var added = new Node(step);
                    list.AddLast(added);
                    reference.Add(added);
                    break;
                case 2 when reference.Count > 0:
                    var victim = reference[random.Next(reference.Count)];
                    Assert.True(list.Remove(victim));
                    reference.Remove(victim);
                    break;
                case 3 when reference.Count > 0:
                    Assert.Same(reference[0], list.RemoveFirst());
                    reference.RemoveAt(0);
                    break;
            }

            Assert.Equal(reference.Count, list.Count);
        }

        Assert.Equal(reference.Select(n => n.Id), Ids(list));
    }
}
