#!/usr/bin/env python3
"""Summarizes several BenchmarkDotNet runs of one class into the Markdown results file (see benchmarks/repeat.sh).

Reads every run's CSV report (`*-report.csv`) and GitHub report (`*-report-github.md`) under the given folder.
Per row (method + parameters): the median of the means, the median ratio to the baseline with its range over the runs,
the largest error/mean of any run, and the allocation. A row whose error is 10% of its mean or more in any run is marked:
its figure does not hold.
"""
import csv
import glob
import os
import re
import statistics
import sys

UNITS = {"ns": 1.0, "μs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
# Columns BenchmarkDotNet writes that are not benchmark parameters.
NOT_PARAMS = {
    "Method", "Job", "AnalyzeLaunchVariance", "EvaluateOverhead", "MaxAbsoluteError", "MaxRelativeError",
    "MinInvokeCount", "MinIterationTime", "OutlierMode", "Affinity", "EnvironmentVariables", "Jit", "LargeAddressAware",
    "Platform", "PowerPlanMode", "Runtime", "AllowVeryLargeObjects", "Concurrent", "CpuGroups", "Force", "HeapAffinitizeMask",
    "HeapCount", "NoAffinitize", "RetainVm", "Server", "Arguments", "BuildConfiguration", "Clock", "EngineFactory",
    "NuGetReferences", "Toolchain", "IsMutator", "InvocationCount", "IterationCount", "IterationTime", "LaunchCount",
    "MaxIterationCount", "MaxWarmupIterationCount", "MemoryRandomization", "MinIterationCount", "MinWarmupIterationCount",
    "RunStrategy", "UnrollFactor", "WarmupCount", "Mean", "Error", "StdDev", "Median", "Ratio", "RatioSD", "Gen0", "Gen1",
    "Gen2", "Allocated", "Alloc Ratio", "Baseline", "Op/s", "Min", "Max", "Q1", "Q3", "Completed Work Items",
    "Lock Contentions", "Code Size",
}


def nanoseconds(text):
    match = re.match(r"^\s*([\d.,]+)\s*(\S+)\s*$", text or "")
    if not match:
        return None
    return float(match.group(1).replace(",", "")) * UNITS.get(match.group(2), float("nan"))


def number(text):
    try:
        return float((text or "").replace(",", "").strip())
    except ValueError:
        return None


def duration(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("μs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:,.2f} {unit}"
    return f"{ns:,.1f} ns"


def main(class_name, folder):
    runs = sorted(d for d in glob.glob(os.path.join(folder, "run*")) if os.path.isdir(d))
    rows = {}
    order = []
    header = None
    for run in runs:
        reports = glob.glob(os.path.join(run, "**", f"*{class_name}-report.csv"), recursive=True)
        if not reports:
            continue
        if header is None:
            github = glob.glob(os.path.join(run, "**", f"*{class_name}-report-github.md"), recursive=True)
            if github:
                text = open(github[0], encoding="utf-8").read()
                header = text.split("```")[1].strip() if "```" in text else ""
        with open(reports[0], encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                params = ", ".join(f"{k}={v}" for k, v in record.items() if k not in NOT_PARAMS and v not in ("", None))
                key = (record["Method"], params)
                if key not in rows:
                    rows[key] = []
                    order.append(key)
                mean = nanoseconds(record.get("Mean"))
                error = nanoseconds(record.get("Error"))
                rows[key].append({
                    "mean": mean,
                    "error_pct": (100.0 * error / mean) if mean and error is not None else None,
                    "ratio": number(record.get("Ratio")),
                    "allocated": record.get("Allocated", "").strip(),
                })
    count = len(runs)
    print(f"# {class_name}\n")
    print(f"{count} runs of BenchmarkDotNet, summarized by `benchmarks/summarize.py`: the median of the runs per row, the range"
          " of the ratio to the `Sequential` baseline over the runs, and the largest error (99.9% half-interval) as a share of"
          " the mean in any run. Rows marked ✗ had an error of 10% of the mean or more in some run: their figure does not"
          " hold.\n")
    if header:
        print("```\n" + header + "\n```\n")
    print("| Method | Parameters | Mean (median) | Ratio (median) | Ratio range | Max error/mean | Allocated | Holds |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | :---: |")
    for key in order:
        samples = rows[key]
        means = [s["mean"] for s in samples if s["mean"] is not None]
        ratios = [s["ratio"] for s in samples if s["ratio"] is not None]
        errors = [s["error_pct"] for s in samples if s["error_pct"] is not None]
        worst = max(errors) if errors else float("nan")
        holds = "✓" if errors and worst < 10.0 and len(samples) == count else "✗"
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
        spread = f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "-"
        print(f"| {key[0]} | {key[1]} | {duration(statistics.median(means)) if means else '-'} | {ratio} | {spread} | "
              f"{worst:.1f}% | {samples[-1]['allocated']} | {holds} |")
    # Each run's own table, as BenchmarkDotNet wrote it: benchmarks/Chart reads every table of a file as one run.
    print("\n## The runs\n")
    for index, run in enumerate(runs, 1):
        github = glob.glob(os.path.join(run, "**", f"*{class_name}-report-github.md"), recursive=True)
        if github:
            text = open(github[0], encoding="utf-8").read()
            table = text.split("```", 2)[2].strip() if text.count("```") >= 2 else text.strip()
            print(f"### Run {index}\n\n{table}\n")
    load = os.path.join(folder, "load.txt")
    if os.path.exists(load):
        print("\nLoad average (1, 5, 15 min) around each run:\n")
        for line in open(load, encoding="utf-8"):
            print(f"- {line.strip()}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: summarize.py <BenchmarkClassName> <folder with run1, run2, ...>")
    main(sys.argv[1], sys.argv[2])
