using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ParallelExec.AnalyzerReport;

/// <summary>
/// What the report needs from a .csproj, read as XML rather than evaluated by MSBuild: its source files (the SDK's
/// default **/*.cs glob, explicit Compile items and removals), project references, target framework, output kind,
/// implicit and explicit global usings, and whether it uses ASP.NET Core. Properties set by conditions or imported
/// targets other than Directory.Build.props/targets are not seen; the report states that in its header.
/// </summary>
internal sealed partial class ProjectFile
{
    private ProjectFile(string path, XDocument xml, IReadOnlyList<XDocument> imports)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory = System.IO.Path.GetDirectoryName(Path)!;
        Name = System.IO.Path.GetFileNameWithoutExtension(Path);
        var all = imports.Prepend(xml).ToList();
        TargetFramework = (Property(all, "TargetFramework") ?? Property(all, "TargetFrameworks") ?? "net10.0")
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .OrderByDescending(FrameworkVersion).First();
        IsExe = string.Equals(Property(all, "OutputType"), "Exe", StringComparison.OrdinalIgnoreCase);
        ImplicitUsings = Property(all, "ImplicitUsings") is "enable" or "true";
        UsesAspNetCore = xml.Root?.Attribute("Sdk")?.Value.Contains("Web", StringComparison.Ordinal) == true
            || Items(all, "FrameworkReference").Any(item => item.Include.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        AssemblyName = Property([xml], "AssemblyName") ?? Name;
        InternalsVisibleTo = Items([xml], "InternalsVisibleTo").Select(item => item.Include).Where(name => name.Length > 0).ToList();
        Usings = Items(all, "Using").Select(item => item.Include).Distinct(StringComparer.Ordinal).ToList();
        ProjectReferences = Items([xml], "ProjectReference")
            .Where(item => item.Element.Attribute("ReferenceOutputAssembly")?.Value != "false")
            .Select(item => Resolve(item.Include)).ToList();
        SourceFiles = CollectSources(xml, Property(all, "EnableDefaultCompileItems") != "false");
    }

    /// <summary>The project file's full path.</summary>
    public string Path { get; }

    /// <summary>Its folder.</summary>
    public string Directory { get; }

    /// <summary>Its name (the file name without extension).</summary>
    public string Name { get; }

    /// <summary>The assembly's name (the project's, unless AssemblyName says otherwise).</summary>
    public string AssemblyName { get; }

    /// <summary>The assemblies its <c>&lt;InternalsVisibleTo&gt;</c> items name.</summary>
    public IReadOnlyList<string> InternalsVisibleTo { get; }

    /// <summary>The framework analysed: the highest of TargetFrameworks (the one with the most API).</summary>
    public string TargetFramework { get; }

    /// <summary>Whether the project is an executable (top-level statements are allowed).</summary>
    public bool IsExe { get; }

    /// <summary>Whether the SDK's implicit global usings apply.</summary>
    public bool ImplicitUsings { get; }

    /// <summary>Whether ASP.NET Core's reference assemblies are referenced.</summary>
    public bool UsesAspNetCore { get; }

    /// <summary>Explicit <c>&lt;Using Include&gt;</c> namespaces.</summary>
    public IReadOnlyList<string> Usings { get; }

    /// <summary>Full paths of the referenced projects whose assemblies are referenced.</summary>
    public IReadOnlyList<string> ProjectReferences { get; }

    /// <summary>Full paths of the C# files compiled.</summary>
    public IReadOnlyList<string> SourceFiles { get; }

    /// <summary>Reads a project, with the Directory.Build.props/targets files above it.</summary>
    public static ProjectFile Load(string path)
    {
        var imports = new List<XDocument>();
        for (var directory = new DirectoryInfo(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!); directory is not null; directory = directory.Parent)
        {
            foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets" })
            {
                var candidate = System.IO.Path.Combine(directory.FullName, name);
                if (File.Exists(candidate))
                {
                    imports.Add(XDocument.Load(candidate));
                }
            }
        }

        return new ProjectFile(path, XDocument.Load(path), imports);
    }

    private List<string> CollectSources(XDocument xml, bool defaultItems)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        if (defaultItems)
        {
            var nested = System.IO.Directory.EnumerateFiles(Directory, "*.csproj", SearchOption.AllDirectories)
                .Select(System.IO.Path.GetDirectoryName)
                .Where(folder => folder != Directory)
                .ToList();
            foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.cs", SearchOption.AllDirectories))
            {
                var relative = System.IO.Path.GetRelativePath(Directory, file).Replace('\\', '/');
                if (!relative.StartsWith("bin/", StringComparison.Ordinal) && !relative.StartsWith("obj/", StringComparison.Ordinal)
                    && !nested.Any(folder => file.StartsWith(folder + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal)))
                {
                    files.Add(file);
                }
            }
        }

        foreach (var item in Items([xml], "Compile"))
        {
            if (item.Include.Length > 0)
            {
                files.UnionWith(Glob(item.Include));
            }

            if (item.Element.Attribute("Remove")?.Value is { Length: > 0 } removed)
            {
                files.ExceptWith(Glob(removed));
            }
        }

        return [.. files.Order(StringComparer.Ordinal)];
    }

    // MSBuild's two common shapes: a file, and folder/**/*.cs (or folder/*.cs).
    private IEnumerable<string> Glob(string pattern)
    {
        foreach (var part in pattern.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Contains('$', StringComparison.Ordinal))
            {
                continue;
            }

            var recursive = part.IndexOf("**", StringComparison.Ordinal);
            var star = part.IndexOf('*', StringComparison.Ordinal);
            if (star < 0)
            {
                yield return Resolve(part);
                continue;
            }

            var root = Resolve(part[..(recursive >= 0 ? recursive : part.LastIndexOfAny(['/', '\\']) + 1)]);
            if (!System.IO.Directory.Exists(root))
            {
                continue;
            }

            var filePattern = part[(part.LastIndexOfAny(['/', '\\']) + 1)..];
            foreach (var file in System.IO.Directory.EnumerateFiles(root, filePattern, recursive >= 0 ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly))
            {
                yield return file;
            }
        }
    }

    // "net10.0" -> 10.0, so net10.0 sorts above net8.0 (as strings it would not); anything else (netstandard2.0) -> 0.
    private static double FrameworkVersion(string framework) =>
        framework.StartsWith("net", StringComparison.Ordinal) && double.TryParse(framework[3..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var version) ? version : 0;

    private string Resolve(string relative) =>
        System.IO.Path.GetFullPath(System.IO.Path.Combine(Directory, relative.Replace('\\', '/')));

    private static string? Property(IEnumerable<XDocument> documents, string name) =>
        documents.SelectMany(document => document.Descendants().Where(element => element.Name.LocalName == name && element.Parent?.Name.LocalName == "PropertyGroup"))
            .Select(element => Unconditional().Replace(element.Value, "").Trim())
            .FirstOrDefault(value => value.Length > 0);

    private static IEnumerable<(XElement Element, string Include)> Items(IEnumerable<XDocument> documents, string name) =>
        documents.SelectMany(document => document.Descendants().Where(element => element.Name.LocalName == name && element.Parent?.Name.LocalName == "ItemGroup"))
            .Select(element => (element, element.Attribute("Include")?.Value ?? ""));

    // A property value that refers to another property cannot be evaluated here; what is left is taken as it is.
    [GeneratedRegex(@"\$\([^)]*\)")]
    private static partial Regex Unconditional();
}
