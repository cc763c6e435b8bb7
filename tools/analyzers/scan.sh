#!/usr/bin/env bash
# Runs the ParallelExec analyzers inside the compiler, over projects of this repository that do not reference them, and
# lists what they report. A cross-check of tools/ParallelExec.AnalyzerReport (which CI runs, and which compiles the
# projects itself, without MSBuild): on 2026-12-05 both listed the same diagnostics.
#   tools/analyzers/scan.sh [project ...]     default: the tests and samples of the solution
# Builds in Debug (so a Release build is left alone); prints one line per diagnostic: id, file:line, message.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mktemp -d)"
projects=("$@")
if [ ${#projects[@]} -eq 0 ]; then
  projects=(tests/ParallelExec.Tests tests/ParallelExec.Sqlite.Tests samples/AgentSwarm samples/WorkerPoolSample)
fi
dotnet build src/ParallelExec.Analyzers -c Release >/dev/null
analyzer="$PWD/src/ParallelExec.Analyzers/bin/Release/netstandard2.0/ParallelExec.Analyzers.dll"
for project in "${projects[@]}"; do
  # --no-incremental: the compiler must run for the diagnostics to be written.
  dotnet build "$project" -c Debug --no-incremental \
    -p:CustomAfterMicrosoftCommonTargets="$PWD/tools/analyzers/AddParallelExecAnalyzers.targets" \
    -p:PexAnalyzerAssembly="$analyzer" -p:PexScanOutput="$out" >"$out/build.log" 2>&1 \
    || { tail -20 "$out/build.log"; exit 1; }
done
python3 - "$out" "$PWD" <<'PY'
import glob, json, sys
out, root = sys.argv[1], sys.argv[2]
seen = set()
for path in sorted(glob.glob(out + "/*.sarif")):
    with open(path) as f:
        log = json.load(f)
    for run in log["runs"]:
        for result in run.get("results", []):
            if not result["ruleId"].startswith("PEX"):
                continue
            location = result["locations"][0]["physicalLocation"]
            where = location["artifactLocation"]["uri"].replace("file://" + root + "/", "") + ":" + str(location["region"]["startLine"])
            key = (result["ruleId"], where)
            if key not in seen:
                seen.add(key)
                print(result["ruleId"], where, result["message"]["text"])
print(f"{len(seen)} distinct diagnostics")
PY
