"""Compile-time benchmark: the GPT training step of benchmarks/gpt.py (C=128, T=64, B=8,
AdamW) at several depths, compiled whole under `@tt.compile` on each CPU backend, cold (a
fresh process with an empty cache directory) and warm (a fresh process reading the disk
cache the cold run wrote), beside torch.compile's cold compile of the same step in the
same run. Every number is measured in its own fresh process.

    python benchmarks/compile_bench.py                      # n_layer 1 2 4 8, torch.compile at 4
    python benchmarks/compile_bench.py --torch-layers 1,2,4,8
    python benchmarks/compile_bench.py --layers 1,2 --torch-layers ''   # quick

Compile time is the first call's time less a later call's (the step itself); the pass
columns are what `TORCHTREK_LOGS=timings` reports for the step's graph. The first step's
loss is checked against torch eager from the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PASSES = ("trace", "passes", "autodiff", "codegen", "load")


def reference(n_layer: int, weights: str) -> float:
    """torch eager's first-step loss; its initial weights saved to `weights` (.npz)."""
    sys.path.insert(0, HERE)
    import gpt
    import numpy as np
    import torch

    step, x, y, model = gpt.make_step(torch, gpt.Config(n_layer=n_layer))
    np.savez(weights, **{k: v.detach().numpy() for k, v in model.named_parameters()})
    return step(x, y).item()


def child(lib_name: str, n_layer: int, backend: str, weights: str) -> None:
    """In a fresh process: build the step from `weights`, time its first call and a later
    one, print JSON. (torch eager does not run here: its OpenMP threads would compete with
    the C kernels' for the cores.)"""
    sys.path.insert(0, HERE)
    import gpt
    import numpy as np

    cfg = gpt.Config(n_layer=n_layer)
    init = dict(np.load(weights))
    if lib_name == "torch":
        import torch

        step, x, y, _ = gpt.make_step(torch, cfg, init=init)
        fn = torch.compile(step)
    else:
        import torchtrek as tt

        step, x, y, _ = gpt.make_step(tt, cfg, init=init)
        fn = tt.compile(step, backend=backend)
    t0 = time.perf_counter()
    got = fn(x, y).item()
    first = time.perf_counter() - t0
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fn(x, y).item()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"first": first, "steady": min(times), "loss": got}))


def run_child(lib_name: str, n_layer: int, backend: str, cache: str, weights: str
              ) -> dict[str, Any]:
    env = dict(os.environ, TORCHTREK_CACHE_DIR=cache, TORCHTREK_LOGS="timings",
               TORCHINDUCTOR_CACHE_DIR=os.path.join(cache, "inductor"))
    env.pop("TORCHTREK_VERIFY", None)
    r = subprocess.run([sys.executable, __file__, "--child", lib_name, str(n_layer), backend, weights],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{lib_name} n_layer={n_layer} {backend} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["compile"] = max(out["first"] - out["steady"], 0.0)
    line = [ln for ln in r.stderr.splitlines() if "compiled step:" in ln]
    out["passes"] = {}
    if line:
        for name, ms in re.findall(r"(\w+) ([\d.]+) ms", line[-1]):
            out["passes"][name] = float(ms) / 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--layers", default="1,2,4,8")
    ap.add_argument("--torch-layers", default="4", help="depths torch.compile is timed at ('' for none)")
    ap.add_argument("--backends", default="c,numpy")
    args = ap.parse_args()
    if args.child:
        lib_name, n, backend, weights = args.child
        child(lib_name, int(n), backend, weights)
        return
    layers = [int(n) for n in args.layers.split(",") if n]
    torch_layers = [int(n) for n in args.torch_layers.split(",") if n]
    print(f"# GPT step compile time (C=128, T=64, B=8, AdamW); {platform.processor() or platform.machine()},"
          f" {os.cpu_count()} cores, Python {platform.python_version()}")
    header = f"{'n_layer':>7} {'backend':>8} {'cold s':>7} {'warm s':>7} " + " ".join(
        f"{p:>8}" for p in PASSES) + f" {'step ms':>8} {'|loss-torch|':>12}"
    print(header)
    cold: dict[tuple[int, str], float] = {}
    work = tempfile.mkdtemp(prefix="tt-compile-bench-")
    refs: dict[int, tuple[str, float]] = {}

    def ref(n: int) -> tuple[str, float]:
        if n not in refs:
            weights = os.path.join(work, f"gpt{n}.npz")
            refs[n] = weights, reference(n, weights)
        return refs[n]

    for n in layers:
        weights, want = ref(n)
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory(prefix="tt-compile-bench-") as cache:
                c = run_child("tt", n, backend, cache, weights)
                w = run_child("tt", n, backend, cache, weights)
            cold[(n, backend)] = c["compile"]
            passes = " ".join(f"{c['passes'].get(p, 0.0):8.3f}" for p in PASSES)
            print(f"{n:7d} {backend:>8} {c['compile']:7.3f} {w['compile']:7.3f} {passes} "
                  f"{c['steady'] * 1000:8.1f} {abs(c['loss'] - want):12.2e}", flush=True)
    for n in torch_layers:
        with tempfile.TemporaryDirectory(prefix="tt-compile-bench-") as cache:
            t = run_child("torch", n, "inductor", cache, ref(n)[0])
        line = f"{n:7d} {'torch.compile':>16} cold {t['compile']:7.3f} s, step {t['steady'] * 1000:.1f} ms"
        for backend in args.backends.split(","):
            if (n, backend) in cold:
                line += f"; tt {backend} / torch.compile = {cold[(n, backend)] / t['compile']:.3f}"
        print(line, flush=True)
    if 4 in layers and 8 in layers:
        for backend in args.backends.split(","):
            print(f"# {backend}: 8 layers / 4 layers cold = {cold[(8, backend)] / cold[(4, backend)]:.2f}")


if __name__ == "__main__":
    main()
