using System.Globalization;
using System.Reflection;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// The bad-value table of the public options types of one assembly: which values of which option must be refused with
/// an <see cref="ArgumentException"/> naming the option and quoting the value, how an options object of each type
/// reaches its validation (the public constructor or method that takes it), and which options accept every value
/// (with the reason). <see cref="UncoveredMembers"/> reads the assembly by reflection, so a new options type, or a new
/// option of a checked kind, without rows fails the test that uses the table.
/// </summary>
public sealed class OptionsTable
{
    private readonly Dictionary<Type, (Func<object> Create, Action<object> Validate)> _entryPoints = [];
    private readonly List<(Type Type, string Property, object? Value, Action<object>? Prepare)> _bad = [];
    private readonly Dictionary<(Type, string), string> _anyValue = [];

    /// <summary>The (type, option, bad value) rows.</summary>
    public IReadOnlyList<(Type Type, string Property, object? Value, Action<object>? Prepare)> BadRows => _bad;

    /// <summary>Registers how an options object of <typeparamref name="T"/> is made and validated through the public API.</summary>
    public OptionsTable Type<T>(Func<T> create, Action<T> validate)
        where T : class
    {
        _entryPoints[typeof(T)] = (() => create(), o => validate((T)o));
        return this;
    }

    /// <summary>Adds rows: each of <paramref name="values"/> for option <paramref name="property"/> of <typeparamref name="T"/> must be refused.</summary>
    public OptionsTable Bad<T>(string property, params object?[] values)
    {
        Assert.True(typeof(T).GetProperty(property) is not null, $"{typeof(T).Name} has no option {property}");
        foreach (object? value in values)
        {
            _bad.Add((typeof(T), property, value, null));
        }

        return this;
    }

    /// <summary>Adds a row whose bad value is only bad together with another setting (<paramref name="prepare"/>, applied first).</summary>
    public OptionsTable BadWith<T>(string property, object? value, Action<T> prepare)
    {
        Assert.True(typeof(T).GetProperty(property) is not null, $"{typeof(T).Name} has no option {property}");
        _bad.Add((typeof(T), property, value, o => prepare((T)o)));
        return this;
    }

    /// <summary>Records that option <paramref name="property"/> of <typeparamref name="T"/> accepts every value of its type, and why.</summary>
    public OptionsTable AnyValue<T>(string property, string why)
    {
        Assert.True(typeof(T).GetProperty(property) is not null, $"{typeof(T).Name} has no option {property}");
        _anyValue[(typeof(T), property)] = why;
        return this;
    }

    /// <summary>
    /// The public options types of <paramref name="assembly"/>: public, non-abstract classes with a public parameterless
    /// constructor whose name ends in Options, Limits or Spec (the settings bags the public API takes).
    /// </summary>
    public static IEnumerable<Type> OptionsTypes(Assembly assembly) =>
        assembly.GetExportedTypes().Where(t => t.IsClass && !t.IsAbstract && t.GetConstructor(System.Type.EmptyTypes) is not null
            && (t.Name.Split('`')[0].EndsWith("Options", StringComparison.Ordinal) || t.Name.EndsWith("Limits", StringComparison.Ordinal) || t.Name.EndsWith("Spec", StringComparison.Ordinal)));

    /// <summary>
    /// Options of <paramref name="assembly"/>'s options types that have neither a bad-value row nor an any-value entry:
    /// every settable option whose type is a value type or a string, or whose default is not null (null is then a bad
    /// value to cover). A generic options type is checked through the closed type registered for it.
    /// </summary>
    public IEnumerable<string> UncoveredMembers(Assembly assembly)
    {
        foreach (Type open in OptionsTypes(assembly))
        {
            Type? type = open.IsGenericTypeDefinition ? _entryPoints.Keys.FirstOrDefault(k => k.IsGenericType && k.GetGenericTypeDefinition() == open) : open;
            if (type is null || !_entryPoints.ContainsKey(type))
            {
                yield return $"{open.Name}: no entry point (how does the public API validate it?)";
                continue;
            }

            object defaults = _entryPoints[type].Create();
            foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
            {
                bool checkedKind = property.PropertyType.IsValueType || property.PropertyType == typeof(string) || property.GetValue(defaults) is not null;
                bool covered = _anyValue.Keys.Any(k => k.Item1.IsAssignableFrom(type) && k.Item2 == property.Name)
                    || _bad.Any(r => r.Type.IsAssignableFrom(type) && r.Property == property.Name);
                if (checkedKind && !covered)
                {
                    yield return $"{type.Name}.{property.Name} ({property.PropertyType.Name})";
                }
            }
        }
    }

    /// <summary>(target type, option, value) of every row: a row on a base options type once per registered type deriving from it.</summary>
    public TheoryData<string, string, string> Rows()
    {
        var rows = new TheoryData<string, string, string>();
        foreach ((Type type, string property, object? value, _) in _bad.DistinctBy(r => (r.Type, r.Property, Format(r.Value))))
        {
            foreach (Type target in TargetsOf(type))
            {
                rows.Add(target.Name, property, Format(value));
            }
        }

        return rows;
    }

    /// <summary>Checks the rows of one (target type, option, value) of <see cref="Rows"/>; fails with every problem found.</summary>
    public void AssertRefused(string type, string property, string value)
    {
        var problems = new List<string>();
        foreach ((Type rowType, string rowProperty, object? rowValue, Action<object>? prepare) in _bad)
        {
            foreach (Type target in TargetsOf(rowType).Where(t => t.Name == type))
            {
                if (rowProperty == property && Format(rowValue) == value && Check(target, property, rowValue, prepare) is { } problem)
                {
                    problems.Add(problem);
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    /// <summary>Fails when a public option of <paramref name="assembly"/> has neither bad-value rows nor an <see cref="AnyValue{T}"/> reason.</summary>
    public void AssertEveryOptionHasRows(Assembly assembly, string where)
    {
        string[] uncovered = UncoveredMembers(assembly).ToArray();
        Assert.True(uncovered.Length == 0, $"options without bad-value rows (add rows to {where}, or AnyValue with the reason): {string.Join(", ", uncovered)}");
    }

    /// <summary>The types rows apply to: a row on a base options type (<see cref="ComponentOptions"/>, a package's shared base) applies to every registered type deriving from it.</summary>
    public IEnumerable<Type> TargetsOf(Type rowType) => _entryPoints.Keys.Where(rowType.IsAssignableFrom);

    /// <summary>
    /// Sets <paramref name="value"/> on a fresh options object of <paramref name="type"/>, passes it to the public API and
    /// returns what went wrong: null when the API threw an <see cref="ArgumentException"/> whose ParamName is the option
    /// (or ends with ".option" for nested limits) and whose message quotes the value.
    /// </summary>
    public string? Check(Type type, string property, object? value, Action<object>? prepare = null)
    {
        (Func<object> create, Action<object> validate) = _entryPoints[type];
        object options = create();
        prepare?.Invoke(options);
        type.GetProperty(property)!.SetValue(options, value);
        Exception? exception = Record.Exception(() => validate(options));
        string shown = Format(value);
        if (exception is not ArgumentException argument)
        {
            return $"{type.Name}.{property} = {shown}: expected an ArgumentException, got {exception?.GetType().Name ?? "no exception"} {exception?.Message}";
        }

        if (argument.ParamName != property && argument.ParamName?.EndsWith("." + property, StringComparison.Ordinal) != true)
        {
            return $"{type.Name}.{property} = {shown}: ParamName '{argument.ParamName}' ({argument.Message})";
        }

        if (!argument.Message.Contains(shown, StringComparison.Ordinal))
        {
            return $"{type.Name}.{property} = {shown}: the message does not quote the value: {argument.Message}";
        }

        return null;
    }

    /// <summary>A value as the validator quotes it.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
