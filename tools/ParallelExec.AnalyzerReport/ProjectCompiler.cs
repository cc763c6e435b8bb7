using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

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
        // MSBuild flows project references transitively: a project sees what its references reference.
        var projectReferences = new Dictionary<string, MetadataReference>(StringComparer.Ordinal);
        foreach (var referenced in project.ProjectReferences.Where(File.Exists).Where(path => !inProgress.Contains(path)))
        {
            var compilation = Compile(ProjectFile.Load(referenced));
            projectReferences.TryAdd(compilation.AssemblyName!, compilation.ToMetadataReference());
            foreach (var transitive in compilation.References.OfType<CompilationReference>())
            {
                projectReferences.TryAdd(transitive.Compilation.AssemblyName!, transitive);
            }
        }

        references.AddRange(projectReferences.Values);

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

        if (project.InternalsVisibleTo.Count > 0)
        {
            // What MSBuild generates from <InternalsVisibleTo> items.
            trees.Add(CSharpSyntaxTree.ParseText(
                string.Concat(project.InternalsVisibleTo.Select(name => $"[assembly: System.Runtime.CompilerServices.InternalsVisibleTo(\"{name}\")]\n")),
                options,
                Path.Combine(project.Directory, "obj", "AssemblyInfo.g.cs")));
        }

        CSharpCompilation result = CSharpCompilation.Create(
            project.AssemblyName,
            trees,
            references,
            new CSharpCompilationOptions(project.IsExe ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
        var generators = SourceGenerators(project);
        if (generators.Length > 0)
        {
            CSharpGeneratorDriver.Create(generators, parseOptions: options).RunGeneratorsAndUpdateCompilation(result, out var generated, out _);
            result = (CSharpCompilation)generated;
        }

        compiled[project.Path] = result;
        inProgress.Remove(project.Path);
        return result;
    }

    private static IEnumerable<MetadataReference> FrameworkReferences(ProjectFile project)
    {
        var packs = ReferencePacks(project);
        var dlls = packs.Count > 0
            ? packs.SelectMany(pack => Directory.GetFiles(pack, "*.dll"))
            // No reference pack at all: the running runtime's own assemblies stand in.
            : ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return dlls.Select(dll => (MetadataReference)MetadataReference.CreateFromFile(dll));
    }

    // <pack>/<version>/ref/<framework>: the pack for the project's framework, else the SDK's newest (netstandard2.0, or an
    // older framework than the SDK carries): one consistent set of reference assemblies for a project and its references.
    private static List<string> ReferencePacks(ProjectFile project)
    {
        var names = new List<string> { "Microsoft.NETCore.App.Ref" };
        if (project.UsesAspNetCore)
        {
            names.Add("Microsoft.AspNetCore.App.Ref");
        }

        // <dotnet root>/shared/Microsoft.NETCore.App/<version>/ is the running runtime; <dotnet root>/packs has the SDK's packs.
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var found = new List<string>();
        foreach (var name in names)
        {
            var folder = Path.Combine(dotnetRoot, "packs", name);
            var candidates = Directory.Exists(folder)
                ? Directory.GetDirectories(folder).SelectMany(version => Directory.Exists(Path.Combine(version, "ref")) ? Directory.GetDirectories(Path.Combine(version, "ref")) : []).ToList()
                : [];
            var reference = candidates.Where(path => Path.GetFileName(path) == project.TargetFramework).OrderByDescending(path => path, StringComparer.Ordinal).FirstOrDefault()
                ?? candidates.OrderByDescending(path => path, StringComparer.Ordinal).FirstOrDefault();
            if (reference is not null)
            {
                found.Add(reference);
            }
        }

        return found;
    }

    // The source generators the SDK runs for every project (System.Text.Json, Regex, LibraryImport, logging...): without
    // them a [GeneratedRegex] or a JsonSerializerContext is a compile error that hides the code around it.
    private static ImmutableArray<ISourceGenerator> SourceGenerators(ProjectFile project)
    {
        var generators = ImmutableArray.CreateBuilder<ISourceGenerator>();
        foreach (var pack in ReferencePacks(project))
        {
            var folder = Path.GetFullPath(Path.Combine(pack, "..", "..", "analyzers", "dotnet", "cs"));
            if (!Directory.Exists(folder))
            {
                continue;
            }

            lock (LoadedGenerators)
            {
                if (!LoadedGenerators.TryGetValue(folder, out var loaded))
                {
                    // The request delegate generator needs the interceptors feature only the web SDK turns on.
                    loaded = [.. Directory.GetFiles(folder, "*.dll").Where(dll => !dll.Contains("RequestDelegateGenerator", StringComparison.Ordinal)).SelectMany(dll =>
                    {
                        try
                        {
                            return new AnalyzerFileReference(dll, GeneratorLoader.Instance).GetGenerators(LanguageNames.CSharp);
                        }
                        catch (Exception exception) when (exception is IOException or BadImageFormatException or TypeLoadException or ReflectionTypeLoadException)
                        {
                            return [];
                        }
                    })];
                    LoadedGenerators[folder] = loaded;
                }

                generators.AddRange(loaded);
            }
        }

        return generators.ToImmutable();
    }

    private static readonly Dictionary<string, ImmutableArray<ISourceGenerator>> LoadedGenerators = new(StringComparer.Ordinal);

    /// <summary>Loads a generator assembly into the default context (the tool runs once and exits).</summary>
    private sealed class GeneratorLoader : IAnalyzerAssemblyLoader
    {
        public static readonly GeneratorLoader Instance = new();

        public void AddDependencyLocation(string fullPath)
        {
        }

        public Assembly LoadFromPath(string fullPath) => Assembly.LoadFrom(fullPath);
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
