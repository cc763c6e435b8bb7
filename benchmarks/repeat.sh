#!/usr/bin/env bash
# Runs one benchmark class several times and writes the results file the README and the notes quote from:
#   benchmarks/repeat.sh <ClassName> [runs=3] [extra BenchmarkDotNet arguments...]
# Each run is a separate BenchmarkDotNet process (default out-of-process toolchain unless you pass --inProcess);
# benchmarks/summarize.py then takes the median of the runs per row, their spread, and the largest error/mean of any run,
# and flags the rows whose error is over 10% of the mean (those do not hold). The machine's load is recorded per run:
# do not commit a file measured while other work was running.
set -euo pipefail
cd "$(dirname "$0")/.."
class="$1"; runs="${2:-3}"; shift $(( $# >= 2 ? 2 : 1 ))
out="artifacts/repeat/$class"
rm -rf "$out"; mkdir -p "$out"
dotnet build benchmarks/ParallelExec.Benchmarks -c Release -warnaserror >/dev/null
for run in $(seq 1 "$runs"); do
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet run -c Release --no-build --project benchmarks/ParallelExec.Benchmarks -- \
    --filter "*.$class.*" --exporters github csv --artifacts "$out/run$run" "$@" > "$out/run$run.log" 2>&1 \
    || { echo "run $run failed: see $out/run$run.log"; exit 1; }
  echo "run $run: load before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.txt"
done
python3 benchmarks/summarize.py "$class" "$out" > "benchmarks/results/$class.md"
echo "wrote benchmarks/results/$class.md"
