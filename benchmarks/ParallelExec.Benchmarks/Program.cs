using BenchmarkDotNet.Running;

// BenchmarkSwitcher, so that --filter, --job, --exporters and the other BenchmarkDotNet options work:
//   dotnet run -c Release --project benchmarks/ParallelExec.Benchmarks -- --filter '*WorkerPool*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
