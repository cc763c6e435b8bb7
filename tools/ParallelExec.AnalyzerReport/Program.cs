using System.Text.RegularExpressions;
using ParallelExec.AnalyzerReport;

// Runs ParallelExec.Analyzers over a solution, a project or a folder of projects and reports what share of the awaits
// sit in sequential patterns, per kind and per project, with the top places to fix.
//   dotnet run --project tools/ParallelExec.AnalyzerReport -- <path.sln|path.csproj|folder>... [--format text|md|sarif]
//       [--output <file>] [--top <n>] [--exclude <substring>]... [--baseline <report.md>]
// With --baseline, exits 1 when a finding is not in that earlier Markdown report (same id and file; lines may move).
const string Usage = "usage: ParallelExec.AnalyzerReport <solution.sln|project.csproj|folder>... [--format text|md|sarif] [--output <file>] [--top <n>] [--exclude <path substring>]... [--baseline <report.md>] [--verbose]";

var inputs = new List<string>();
var excludes = new List<string>();
var format = "text";
string? output = null;
string? baseline = null;
var verbose = false;
var top = 15;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value. {Usage}");
    switch (args[i])
    {
        case "--format": format = Next(); break;
        case "--output": output = Next(); break;
        case "--top": top = int.TryParse(Next(), out var n) && n > 0 ? n : throw new ArgumentException($"--top must be a positive number, was '{args[i]}'."); break;
        case "--exclude": excludes.Add(Next()); break;
        case "--baseline": baseline = Next(); break;
        case "--verbose": verbose = true; break;
        case "-h" or "--help": Console.WriteLine(Usage); return 0;
        default: inputs.Add(args[i]); break;
    }
}

if (inputs.Count == 0 || format is not ("text" or "md" or "sarif"))
{
    Console.Error.WriteLine(inputs.Count == 0 ? "No solution, project or folder given." : $"Unknown --format '{format}': text, md or sarif.");
    Console.Error.WriteLine(Usage);
    return 2;
}

var projects = new List<string>();
foreach (var input in inputs)
{
    var full = Path.GetFullPath(input);
    if (full.EndsWith(".sln", StringComparison.OrdinalIgnoreCase) && File.Exists(full))
    {
        // Project("{type}") = "Name", "relative\path.csproj", "{guid}"
        projects.AddRange(Regex.Matches(File.ReadAllText(full), "^Project\\(\"[^\"]*\"\\) = \"[^\"]*\", \"([^\"]+\\.csproj)\"", RegexOptions.Multiline)
            .Select(match => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(full)!, match.Groups[1].Value.Replace('\\', '/')))));
    }
    else if (full.EndsWith(".csproj", StringComparison.OrdinalIgnoreCase) && File.Exists(full))
    {
        projects.Add(full);
    }
    else if (Directory.Exists(full))
    {
        projects.AddRange(Directory.EnumerateFiles(full, "*.csproj", SearchOption.AllDirectories)
            .Where(path => !path.Contains("/bin/", StringComparison.Ordinal) && !path.Contains("/obj/", StringComparison.Ordinal)));
    }
    else
    {
        Console.Error.WriteLine($"'{input}' is not a .sln, a .csproj or a folder.");
        return 2;
    }
}

projects = [.. projects.Distinct(StringComparer.Ordinal).Where(path => !excludes.Any(path.Contains)).Order(StringComparer.Ordinal)];
var root = CommonRoot(inputs.Select(input => Directory.Exists(input) ? Path.GetFullPath(input) : Path.GetDirectoryName(Path.GetFullPath(input))!));
var compiler = new ProjectCompiler();
var results = new List<ProjectResult>();
foreach (var path in projects)
{
    var project = ProjectFile.Load(path);
    results.Add(await Scanner.ScanAsync(project, compiler.Compile(project), root, verbose, CancellationToken.None).ConfigureAwait(false));
}

var report = new Report(root, string.Join(", ", inputs) + (excludes.Count > 0 ? " (excluding " + string.Join(", ", excludes) + ")" : ""), results, Scanner.Rules);
var text = format switch
{
    "sarif" => SarifReport.Write(report),
    "md" => TableReport.Write(report, top, markdown: true),
    _ => TableReport.Write(report, top, markdown: false),
};
if (output is null)
{
    Console.Write(text);
}
else
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    File.WriteAllText(output, text);
    Console.WriteLine($"{report.Projects.Count} project(s), {report.Awaits} awaits, {report.SequentialAwaits} in sequential patterns ({Report.Share(report.SequentialAwaits, report.Awaits)}); written to {output}");
}

if (baseline is not null)
{
    var unexplained = Baseline.NewFindings(report, File.ReadAllText(baseline));
    foreach (var finding in unexplained)
    {
        Console.Error.WriteLine($"new finding, not in {baseline}: {finding.Id} {finding.File}:{finding.Line} {finding.Message}");
    }

    if (unexplained.Count > 0)
    {
        Console.Error.WriteLine($"{unexplained.Count} finding(s) not in {baseline}: fix them, or regenerate it and explain each there.");
        return 1;
    }
}

return 0;

static string CommonRoot(IEnumerable<string> folders)
{
    var parts = folders.Select(folder => folder.TrimEnd('/').Split('/')).ToList();
    var common = parts[0].TakeWhile((part, i) => parts.All(other => other.Length > i && other[i] == part)).ToArray();
    return common.Length <= 1 ? "/" : string.Join('/', common);
}
