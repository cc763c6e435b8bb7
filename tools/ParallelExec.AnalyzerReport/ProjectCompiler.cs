using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ParallelExec.AnalyzerReport;

/// <summary>
/// Builds a Roslyn compilation of a project without MSBuild: its .cs files, the SDK's reference assemblies for its
/// framework, the compile assets of its restored packages (obj/project.assets.json), and the compilations of the
/// projects it references. Why not MSBuildWorkspace: it needs Microsoft.Build.Locator and a matching MSBuild loaded in
/// the process, evaluates every target, and fails as a whole on one project it cannot load; what the analyzers need is
/// only the symbols, and these three sources give them. A project that was never restored still compiles, with its
/// package types unresolved (the analyzers then stay silent where they cannot see a type: they are conservative).
/// </summary>
internal sealed class ProjectCompiler
{
    private static readonly string[] ImplicitNamespaces =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private readonly Dictionary<string, Compilation> compiled = new(StringComparer.Ordinal);
    private readonly HashSet<string> inProgress = new(StringComparer.Ordinal);

    /// <summary>The compilation of the <paramref name="project"/> (cached: a referenced project is compiled once).</summary>
    public Compilation Compile(ProjectFile project)
    {
        if (compiled.TryGetValue(project.Path, out var done))
        {
            return done;
        }

        inProgress.Add(project.Path);
        var references = new List<MetadataReference>();
        references.AddRange(FrameworkReferences(project));
        references.AddRange(PackageReferences(project));
        foreach (var referenced in project.ProjectReferences.Where(File.Exists).Where(path => !inProgress.Contains(path)))
        {
            references.Add(Compile(ProjectFile.Load(referenced)).ToMetadataReference());
        }

        var version = project.TargetFramework.Replace("net", "", StringComparison.Ordinal).Replace('.', '_');
        var symbols = new List<string> { "NET", "NETCOREAPP", "RELEASE", "NET" + version.ToUpperInvariant() };
        if (int.TryParse(version.Split('_')[0], out var major))
        {
            symbols.AddRange(Enumerable.Range(5, major - 4).Select(v => $"NET{v}_0_OR_GREATER"));
        }

        var options = new CSharpParseOptions(LanguageVersion.Preview, preprocessorSymbols: symbols);
        var trees = project.SourceFiles.Where(File.Exists)
            .Select(file => CSharpSyntaxTree.ParseText(File.ReadAllText(file), options, file))
            .ToList();
        var usings = (project.ImplicitUsings ? ImplicitNamespaces : []).Concat(project.Usings).Distinct(StringComparer.Ordinal).ToList();
        if (usings.Count > 0)
        {
            trees.Add(CSharpSyntaxTree.ParseText(string.Concat(usings.Select(name => $"global using global::{name};\n")), options, Path.Combine(project.Directory, "obj", "GlobalUsings.g.cs")));
        }

        var compilation = CSharpCompilation.Create(
            project.Name,
            trees,
            references,
            new CSharpCompilationOptions(project.IsExe ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
        compiled[project.Path] = compilation;
        inProgress.Remove(project.Path);
        return compilation;
    }

    private static IEnumerable<MetadataReference> FrameworkReferences(ProjectFile project)
    {
        var packs = new List<string> { "Microsoft.NETCore.App.Ref" };
        if (project.UsesAspNetCore)
        {
            packs.Add("Microsoft.AspNetCore.App.Ref");
        }

        // <dotnet root>/shared/Microsoft.NETCore.App/<version>/ is the running runtime; <dotnet root>/packs has the SDK's reference packs.
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var found = false;
        foreach (var pack in packs)
        {
            var folder = Path.Combine(dotnetRoot, "packs", pack);
            var reference = Directory.Exists(folder)
                ? Directory.GetDirectories(folder)
                    .Select(version => Path.Combine(version, "ref", project.TargetFramework))
                    .Where(Directory.Exists)
                    .OrderByDescending(path => path, StringComparer.Ordinal)
                    .FirstOrDefault()
                : null;
            if (reference is null)
            {
                continue;
            }

            found = true;
            foreach (var dll in Directory.GetFiles(reference, "*.dll"))
            {
                yield return MetadataReference.CreateFromFile(dll);
            }
        }

        if (!found)
        {
            // No reference pack for that framework: the running runtime's own assemblies stand in.
            foreach (var dll in ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator))
            {
                yield return MetadataReference.CreateFromFile(dll);
            }
        }
    }

    private static IEnumerable<MetadataReference> PackageReferences(ProjectFile project)
    {
        var assets = Path.Combine(project.Directory, "obj", "project.assets.json");
        if (!File.Exists(assets))
        {
            yield break;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(assets));
        var root = document.RootElement;
        var folders = root.GetProperty("packageFolders").EnumerateObject().Select(folder => folder.Name).ToList();
        var libraries = root.GetProperty("libraries");
        var target = root.GetProperty("targets").EnumerateObject()
            .FirstOrDefault(candidate => candidate.Name.Equals(project.TargetFramework, StringComparison.OrdinalIgnoreCase)
                || candidate.Name.StartsWith(FrameworkMoniker(project.TargetFramework), StringComparison.Ordinal));
        if (target.Value.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }

        foreach (var package in target.Value.EnumerateObject())
        {
            if (package.Value.GetProperty("type").GetString() != "package" || !package.Value.TryGetProperty("compile", out var compile)
                || !libraries.TryGetProperty(package.Name, out var library))
            {
                continue;
            }

            var packagePath = library.GetProperty("path").GetString()!;
            foreach (var asset in compile.EnumerateObject().Select(entry => entry.Name).Where(name => name.EndsWith(".dll", StringComparison.Ordinal)))
            {
                var file = folders.Select(folder => Path.Combine(folder, packagePath, asset)).FirstOrDefault(File.Exists);
                if (file is not null)
                {
                    yield return MetadataReference.CreateFromFile(file);
                }
            }
        }
    }

    // project.assets.json names targets by their long moniker (".NETCoreApp,Version=v10.0") in older SDKs.
    private static string FrameworkMoniker(string framework) =>
        ".NETCoreApp,Version=v" + framework.Replace("net", "", StringComparison.Ordinal);
}
