"""Smoke test of the CPU benchmark (every implementation is checked against NumPy
before it is timed, so this is also a correctness check of the workloads)."""

import importlib.util
from pathlib import Path


def test_cpu_benchmark_quick_mode_runs_and_checks_every_workload():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_bench.py"
    spec = importlib.util.spec_from_file_location("cpu_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(quick=True, with_compile=False)
    names = [name.split()[0] for name, _, _ in rows]
    assert names == ["W1", "W1", "W2", "W2", "W3", "W4", "W4", "W5"]
    assert all({"tt c", "tt numpy", "numpy"} <= set(times) for _, times, _ in rows)
    assert "W5" in bench.report(rows)


def test_latency_scripts_run_in_fresh_processes():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_bench.py"
    spec = importlib.util.spec_from_file_location("cpu_bench_latency", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (specialized_first, specialized_call), (dynamic_first, dynamic_call) = bench.new_size_latency("numpy")
    assert 0 < dynamic_first < specialized_first  # no new trace at a new batch size
    assert specialized_call > 0 and dynamic_call > 0
