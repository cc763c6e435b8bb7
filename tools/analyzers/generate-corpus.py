#!/usr/bin/env python3
"""Writes a corpus of generated C# programs for estimating the analyzers' precision (docs/analyzers/README.md).

  tools/analyzers/generate-corpus.py <output folder> [--programs N] [--seed S]

Each program is a class whose methods are drawn at random from the shapes below, with random names, element types and
order. Every method starts with a comment naming its shape and whether a diagnostic is expected, so each diagnostic
the analyzers raise can be checked by hand against the code it points at. The folder gets a project referencing
src/ParallelExec, for tools/ParallelExec.AnalyzerReport:

  dotnet run -c Release --project tools/ParallelExec.AnalyzerReport -- <output folder> --top 200
"""
import os, random, sys

# (name, flagged?, body template): flagged when the awaits are independent and the analyzers are meant to report them. {a} {b}: services; {x}: item; {xs}: the sequence; {r1} {r2}: result names.
SHAPES = [
    ("two queries on two services", True,
     "var {r1} = await {a}.GetAsync(id);\n        var {r2} = await {b}.GetAsync(id + 1);\n        return {r1}.Length + {r2}.Length;"),
    ("three queries on three services", True,
     "var {r1} = await {a}.GetAsync(id);\n        var {r2} = await {b}.GetAsync(id);\n        var {r3} = await {c}.GetAsync(id);\n        return {r1}.Length + {r2}.Length + {r3}.Length;"),
    ("second query uses the first result", False,
     "var {r1} = await {a}.GetAsync(id);\n        var {r2} = await {b}.GetAsync({r1}.Length);\n        return {r2}.Length;"),
    ("two queries on one service (may share its state)", False,
     "var {r1} = await {a}.GetAsync(id);\n        var {r2} = await {a}.GetAsync(id + 1);\n        return {r1}.Length + {r2}.Length;"),
    ("save then notify", False,
     "var {r1} = await {a}.SaveAsync(id);\n        var {r2} = await {b}.NotifyAsync({r1});\n        return {r2};"),
    ("independent queries inside a try with a catch (not flagged on purpose)", False,
     "try\n        {{\n            var {r1} = await {a}.GetAsync(id);\n            var {r2} = await {b}.GetAsync(id);\n            return {r1}.Length + {r2}.Length;\n        }}\n        catch (InvalidOperationException)\n        {{\n            return 0;\n        }}"),
    ("send per item", True,
     "foreach (var {x} in {xs})\n        {{\n            await {a}.SendAsync({x}.ToString());\n        }}\n\n        return 0;"),
    ("result per item into a list", True,
     "var {r1} = new List<string>();\n        foreach (var {x} in {xs})\n        {{\n            {r1}.Add(await {a}.GetAsync({x}));\n        }}\n\n        return {r1}.Count;"),
    ("running total", False,
     "var {r1} = 0;\n        foreach (var {x} in {xs})\n        {{\n            {r1} += (await {a}.GetAsync({x})).Length;\n        }}\n\n        return {r1};"),
    ("break on a result", False,
     "foreach (var {x} in {xs})\n        {{\n            var {r1} = await {a}.GetAsync({x});\n            if ({r1}.Length > 3)\n            {{\n                break;\n            }}\n        }}\n\n        return 0;"),
    ("each item from the previous result", False,
     "var {r1} = id;\n        foreach (var {x} in {xs})\n        {{\n            {r1} = (await {a}.GetAsync({r1} + {x})).Length;\n        }}\n\n        return {r1};"),
    ("write each item to one writer", False,
     "foreach (var {x} in {xs})\n        {{\n            await writer.WriteLineAsync({x}.ToString());\n        }}\n\n        return 0;"),
    ("publish each item to one bus", False,
     "foreach (var {x} in {xs})\n        {{\n            await {a}.PublishAsync({x}.ToString());\n        }}\n\n        return 0;"),
    ("store a field per item", False,
     "foreach (var {x} in {xs})\n        {{\n            _last = await {a}.GetAsync({x});\n        }}\n\n        return _last.Length;"),
    ("delay per item", False,
     "foreach (var {x} in {xs})\n        {{\n            await Task.Delay({x});\n        }}\n\n        return 0;"),
    ("memory store read per key", True,
     "var {r1} = 0;\n        foreach (var {x} in {xs})\n        {{\n            var {r2} = await store.GetAsync(\"ns\", {x}.ToString());\n            {r1} += {r2}?.Length ?? 0;\n        }}\n\n        return {r1};"),
    ("memory store write per key", True,
     "foreach (var {x} in {xs})\n        {{\n            await store.SetAsync(\"ns\", {x}.ToString(), new byte[] {{ 1 }});\n        }}\n\n        return 0;"),
    ("synchronous file read per path in async code", True,
     "var {r1} = 0;\n        foreach (var {x} in paths)\n        {{\n            {r1} += File.ReadAllText({x}).Length;\n        }}\n\n        await Task.Yield();\n        return {r1};"),
    ("awaits under a semaphore", False,
     "await gate.WaitAsync();\n        try\n        {{\n            var {r1} = await {a}.GetAsync(id);\n            return {r1}.Length;\n        }}\n        finally\n        {{\n            gate.Release();\n        }}"),
]

WORDS = ["users", "orders", "prices", "stock", "reviews", "carts", "tags", "notes", "files", "events", "alerts", "jobs"]


def main():
    out = sys.argv[1]
    programs = int(sys.argv[sys.argv.index("--programs") + 1]) if "--programs" in sys.argv else 40
    rng = random.Random(int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 25)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "Corpus.csproj"), "w") as f:
        f.write(f"""<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
  <ItemGroup><ProjectReference Include="{root}/src/ParallelExec/ParallelExec.csproj" /></ItemGroup>
</Project>
""")
    with open(os.path.join(out, "Services.cs"), "w") as f:
        f.write("""namespace Corpus;

public sealed class Service
{
    public Task<string> GetAsync(int id) => Task.FromResult(id.ToString());
    public Task<int> SaveAsync(int id) => Task.FromResult(id);
    public Task<int> NotifyAsync(int id) => Task.FromResult(id);
    public Task SendAsync(string message) => Task.CompletedTask;
    public Task PublishAsync(string message) => Task.CompletedTask;
}
""")
    for p in range(programs):
        names = rng.sample(WORDS, 3)
        methods = []
        for m in range(rng.randint(4, 6)):
            name, independent, body = rng.choice(SHAPES)
            r = rng.sample(["first", "second", "third", "left", "right", "head", "tail", "value", "other"], 3)
            code = body.format(a="_" + names[0], b="_" + names[1], c="_" + names[2], x=rng.choice(["item", "n", "key"]),
                               xs="ids", r1=r[0], r2=r[1], r3=r[2])
            methods.append(f"""    // shape: {name}; expected: {"flagged" if independent else "silent"}
    public async Task<int> Step{m}Async(int id, IReadOnlyList<int> ids, IReadOnlyList<string> paths, TextWriter writer, ParallelExec.Memory.IMemoryStore store, SemaphoreSlim gate)
    {{
        {code}
    }}
""")
        with open(os.path.join(out, f"Program{p:02}.cs"), "w") as f:
            f.write(f"""namespace Corpus;

public sealed class Program{p:02}
{{
    private readonly Service _{names[0]} = new();
    private readonly Service _{names[1]} = new();
    private readonly Service _{names[2]} = new();
    private string _last = "";

{chr(10).join(methods)}}}
""")


if __name__ == "__main__":
    main()
