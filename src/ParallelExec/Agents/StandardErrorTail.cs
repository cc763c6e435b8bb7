using System.Text;

namespace ParallelExec.Agents;

/// <summary>The most recent part of a process's standard error, bounded to a number of characters.</summary>
/// <param name="capacity">The most characters kept.</param>
internal sealed class StandardErrorTail(int capacity)
{
    private readonly StringBuilder _text = new();

    public void AppendLine(string line)
    {
        lock (_text)
        {
            _text.Append(line).Append('\n');
            if (_text.Length > capacity)
            {
                _text.Remove(0, _text.Length - capacity);
            }
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
