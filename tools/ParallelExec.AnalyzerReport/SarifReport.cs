using System.Text.Json;
using System.Text.Json.Nodes;

namespace ParallelExec.AnalyzerReport;

/// <summary>
/// The report as SARIF 2.1.0: one run whose tool is ParallelExec.Analyzers, one result per finding (level "note"), and
/// the await counts in the run's property bag (overall and per project), so a SARIF viewer shows the places and a
/// script can read the figures.
/// </summary>
internal static class SarifReport
{
    /// <summary>Writes the report as a SARIF log.</summary>
    public static string Write(Report report)
    {
        var rules = new JsonArray(report.Rules.Values.OrderBy(rule => rule.Id, StringComparer.Ordinal).Select(rule => (JsonNode)new JsonObject
        {
            ["id"] = rule.Id,
            ["shortDescription"] = new JsonObject { ["text"] = rule.Title },
            ["helpUri"] = rule.HelpLink,
        }).ToArray());
        var results = new JsonArray(report.Ranked.Select(finding => (JsonNode)new JsonObject
        {
            ["ruleId"] = finding.Id,
            ["level"] = "note",
            ["message"] = new JsonObject { ["text"] = finding.Message },
            ["locations"] = new JsonArray(new JsonObject
            {
                ["physicalLocation"] = new JsonObject
                {
                    ["artifactLocation"] = new JsonObject { ["uri"] = finding.File, ["uriBaseId"] = "SRCROOT" },
                    ["region"] = new JsonObject { ["startLine"] = finding.Line, ["startColumn"] = finding.Column },
                },
            }),
            ["properties"] = new JsonObject { ["project"] = finding.Project, ["awaitsCovered"] = finding.Awaits },
        }).ToArray());
        var projects = new JsonArray(report.Projects.Select(project => (JsonNode)new JsonObject
        {
            ["name"] = project.Name,
            ["path"] = project.Path,
            ["awaits"] = project.Awaits,
            ["sequentialAwaits"] = project.SequentialAwaits,
            ["compileErrors"] = project.CompileErrors,
        }).ToArray());
        var log = new JsonObject
        {
            ["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json",
            ["version"] = "2.1.0",
            ["runs"] = new JsonArray(new JsonObject
            {
                ["tool"] = new JsonObject
                {
                    ["driver"] = new JsonObject
                    {
                        ["name"] = "ParallelExec.Analyzers",
                        ["informationUri"] = "https://github.com/parallelexec/parallelexec/blob/main/docs/analyzers/README.md",
                        ["rules"] = rules,
                    },
                },
                ["originalUriBaseIds"] = new JsonObject { ["SRCROOT"] = new JsonObject { ["uri"] = new Uri(report.Root.TrimEnd('/') + "/").AbsoluteUri } },
                ["results"] = results,
                ["properties"] = new JsonObject
                {
                    ["awaits"] = report.Awaits,
                    ["sequentialAwaits"] = report.SequentialAwaits,
                    ["projects"] = projects,
                },
            }),
        };
        return log.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
