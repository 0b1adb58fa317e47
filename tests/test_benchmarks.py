"""Smoke test of the CPU benchmark (every implementation is checked against NumPy
before it is timed, so this is also a correctness check of the workloads)."""

import importlib.util
from pathlib import Path

import pytest


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


def test_compile_benchmark_quick_mode_matches_torch_loss():
    """One depth, both backends, fresh processes: the compiled GPT step's first loss is
    torch eager's from the same weights (the bench prints |loss - torch|)."""
    import subprocess
    import sys

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "compile_bench.py"
    r = subprocess.run([sys.executable, str(path), "--layers", "1", "--torch-layers", ""],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [ln.split() for ln in r.stdout.splitlines() if ln.strip().startswith("1 ")]
    assert [row[1] for row in rows] == ["c", "numpy"], r.stdout
    for row in rows:
        cold, warm, loss_err = float(row[2]), float(row[3]), float(row[-1])
        assert cold > 0 and warm > 0 and loss_err < 1e-5, row


def test_thread_throughput_runs_two_threads():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_bench.py"
    spec = importlib.util.spec_from_file_location("cpu_bench_threads", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    one, two = bench.thread_throughput("c", steps=3)
    assert one > 0 and two > 0


def test_sequence_benchmark_quick_mode_checks_against_torch():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "seq_bench.py"
    spec = importlib.util.spec_from_file_location("seq_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(quick=True)
    assert [r[0].split()[0] for r in rows] == ["attention", "LSTM"]
    assert all(set(t) == {"torch eager", "tt eager", "tt c"} for _, t in rows)
    assert "ms" in bench.report(rows)


@pytest.mark.parametrize("attention", ["manual", "sdpa"])
def test_gpt_speed_benchmark_child_checks_the_loss(tmp_path, attention):
    """The TorchTrek half of benchmarks/gpt_bench.py (its child process), one tiny rep:
    the first loss of every TorchTrek row equals torch's from the same weights."""
    import json
    import subprocess
    import sys

    import numpy as np
    import torch

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(root))
    import gpt

    cfg = gpt.Config(n_layer=1, attention=attention)
    step, x, y, ref = gpt.make_step(torch, cfg)
    init = {k: gpt._numpy(v) for k, v in ref.named_parameters()}
    want = float(gpt.make_step(torch, cfg, init=init)[0](x, y))
    np.savez(tmp_path / "w.npz", **init)
    r = subprocess.run([sys.executable, str(root / "gpt_bench.py"), "--tt-child", "1", "1",
                        str(tmp_path / "w.npz"), repr(want), attention], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    child = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(child["times"]) == {"tt eager", "tt c", "tt numpy"}
    assert all(err < 1e-5 for err in child["errs"].values()), child
