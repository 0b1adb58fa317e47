"""Model-scale speed: the GPT training step of benchmarks/gpt.py (C=128, T=64, B=8, AdamW) at
n_layer 2 / 4 / 8, attention written out (minGPT) or through F.scaled_dot_product_attention
(nanoGPT; `--attention sdpa`), torch eager and torch.compile beside TorchTrek eager and compiled (C and
NumPy backends), in one run: median step time, tokens/s, ratios to the best torch. Each
TorchTrek step starts from torch's weights and its first loss is checked against torch's.
TorchTrek is timed in a child process that does not import torch: torch's idle OpenMP threads
keep spinning after its steps and take the cores from TorchTrek's own OpenMP kernels (the C
backend measured 2x slower in the same process).

    python benchmarks/gpt_bench.py [--layers 2,4,8] [--attention manual,sdpa]
                                   [--no-torch-compile] [--reps 10] [--rounds 3]

Each number is the best of --rounds medians: torch and the TorchTrek child take turns, so
that a noisy minute of a shared machine does not land on one side only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt  # noqa: E402


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def tt_times(n_layer: int, reps: int, weights: str, want: float, attention: str
             ) -> dict[str, Any]:
    """TorchTrek's rows (run in the child process)."""
    import torchtrek as tt

    cfg = gpt.Config(n_layer=n_layer, attention=attention)
    init = dict(np.load(weights))
    times, errs = {}, {}
    for name, backend in (("tt eager", None), ("tt c", "c"), ("tt numpy", "numpy")):
        s, tx, ty, _ = gpt.make_step(tt, cfg, init=init)
        if backend is not None:
            s = tt.compile(s, backend=backend)
        errs[name] = abs(float(s(tx, ty)) - want)
        times[name] = median_time(lambda: s(tx, ty), reps)
    return {"times": times, "errs": errs}


def row(n_layer: int, reps: int, with_compile: bool, attention: str = "manual",
        rounds: int = 3) -> dict[str, Any]:
    """One table row: each column the best of `rounds` medians, torch and TorchTrek taking
    turns (round 1: torch, then the TorchTrek child; round 2: again...), so that a noisy
    minute on a shared machine does not fall on one side only."""
    import torch

    cfg = gpt.Config(n_layer=n_layer, attention=attention)
    times: dict[str, float] = {}
    step, x, y, ref = gpt.make_step(torch, cfg)
    init = {k: gpt._numpy(v) for k, v in ref.named_parameters()}
    want = float(gpt.make_step(torch, cfg, init=init)[0](x, y))
    if with_compile:
        cstep, cx, cy, _ = gpt.make_step(torch, cfg, init=init)
        cstep = torch.compile(cstep)
    errs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        weights = os.path.join(d, "w.npz")
        np.savez(weights, **init)
        for _ in range(rounds):
            got = {"torch eager": median_time(lambda: step(x, y), reps)}
            if with_compile:
                got["torch.compile"] = median_time(lambda: cstep(cx, cy), reps)
            out = subprocess.run([sys.executable, __file__, "--tt-child", str(n_layer), str(reps),
                                  weights, repr(want), attention], capture_output=True, text=True,
                                 check=True)
            child = json.loads(out.stdout.strip().splitlines()[-1])
            got.update(child["times"])
            errs = {k: max(v, errs.get(k, 0.0)) for k, v in child["errs"].items()}
            times = {k: min(v, times.get(k, float("inf"))) for k, v in got.items()}
    return {"n_layer": n_layer, "attention": attention, "times": times,
            "tokens": cfg.batch * cfg.block_size, "errs": errs}


def report(rows: list[dict[str, Any]]) -> str:
    names = list(rows[0]["times"])
    lines = ["n_layer attention " + " ".join(f"{n:>14}" for n in names)
             + "   best-torch ratio (c, eager)"]
    for r in rows:
        t = r["times"]
        best = min(v for k, v in t.items() if k.startswith("torch"))
        cells = " ".join(f"{t[n] * 1e3:11.1f} ms" for n in names)
        lines.append(f"{r['n_layer']:7d} {r['attention']:>9} {cells}   {t['tt c'] / best:5.2f}x, "
                     f"{t['tt eager'] / t['torch eager']:5.2f}x (vs torch eager)")
        lines.append(f"                  tokens/s: " + ", ".join(
            f"{n} {r['tokens'] / t[n]:,.0f}" for n in names) + "; |loss - torch| "
            + ", ".join(f"{k} {v:.1e}" for k, v in r["errs"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--tt-child":
        n, reps, weights, want, attention = sys.argv[2:7]
        print(json.dumps(tt_times(int(n), int(reps), weights, float(want), attention)))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--layers", default="2,4,8")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--attention", default="manual,sdpa")
    p.add_argument("--rounds", type=int, default=3,
                   help="torch and TorchTrek take turns this many times; best median kept")
    p.add_argument("--no-torch-compile", action="store_true")
    a = p.parse_args()
    rows = [row(int(n), a.reps, not a.no_torch_compile, att, a.rounds)
            for att in a.attention.split(",") for n in a.layers.split(",")]
    print(report(rows))
