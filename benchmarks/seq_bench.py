"""Sequence-model rows, side by side with torch in one run: attention forward + backward
(F.scaled_dot_product_attention, causal) and an LSTM training step (nn.LSTM, 2 layers), each
as torch eager, TorchTrek eager and TorchTrek compiled (C backend), with ratios to torch eager.
Every TorchTrek result is checked against torch's before it is timed; TorchTrek runs in a child
process that does not import torch (see _time_all).

    python benchmarks/seq_bench.py            # the issue's sizes
    python benchmarks/seq_bench.py --quick    # small sizes (the smoke test)
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


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _time_all(name: str, make: Callable[[Any, bool, dict], Callable[[], Any]],
              data: dict[str, np.ndarray], reps: int) -> dict[str, float]:
    """torch eager here; TorchTrek eager and compiled (C) in a child process that does not
    import torch (torch's idle OpenMP threads keep spinning after its calls and take the
    cores from NumPy's BLAS and TorchTrek's kernels: in one process both sides ran up to
    2x slower). The child checks each result against torch's before timing it."""
    import torch

    run = make(torch, False, data)
    want = np.asarray(run(), dtype=np.float64)
    out = {"torch eager": median_time(run, reps)}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.npz")
        np.savez(path, want=want, **data)
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--tt-child", name, path,
                            str(reps)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"the TorchTrek child failed:\n{r.stderr[-4000:]}")
    out.update(json.loads(r.stdout.strip().splitlines()[-1]))
    return out


def _child(name: str, path: str, reps: int) -> dict[str, float]:
    import torchtrek as tt

    data = dict(np.load(path))
    want = data.pop("want")
    make = ROWS[name]
    out = {}
    for label, compiled in (("tt eager", False), ("tt c", True)):
        run = make(tt, compiled, data)
        np.testing.assert_allclose(np.asarray(run(), dtype=np.float64), want, rtol=1e-3,
                                   atol=1e-4, err_msg=f"{name}, {label}")
        out[label] = median_time(run, reps)
    return out


def attention_data(B: int, H: int, T: int, D: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(0)
    q, k, v, up = (rng.randn(B, H, T, D).astype(np.float32) for _ in range(4))
    return {"q": q, "k": k, "v": v, "up": up}


def make_attention(m: Any, compiled: bool, data: dict) -> Callable[[], Any]:
    """Forward + backward of causal SDPA; returns the query's gradient."""
    import torchtrek as tt

    ts = [m.tensor(data[n], requires_grad=True) for n in ("q", "k", "v")]
    g = m.tensor(data["up"])

    def fwd_bwd(a: Any, b: Any, c: Any) -> Any:
        out = m.nn.functional.scaled_dot_product_attention(a, b, c, is_causal=True)
        return (out * g).sum()

    f = tt.compile(fwd_bwd, backend="c") if compiled else fwd_bwd

    def run() -> Any:
        for t in ts:
            t.grad = None
        f(*ts).backward()
        return ts[0].grad.numpy()
    return run


def lstm_data(layers: int, hidden: int, T: int, B: int) -> dict[str, np.ndarray]:
    import torch

    rng = np.random.RandomState(1)
    torch.manual_seed(0)
    ref = torch.nn.LSTM(hidden, hidden, layers)
    data = {"w." + k: v.detach().numpy() for k, v in ref.state_dict().items()}
    data["x"] = rng.randn(T, B, hidden).astype(np.float32)
    data["y"] = rng.randn(T, B, hidden).astype(np.float32)
    data["shape"] = np.array([layers, hidden])
    return data


def make_lstm(m: Any, compiled: bool, data: dict) -> Callable[[], Any]:
    """One SGD step of a 2-layer LSTM on a squared error; returns the loss. Each run starts
    from the same weights, so every run's loss is the first step's."""
    import torchtrek as tt

    layers, hidden = (int(n) for n in data["shape"])
    lstm = m.nn.LSTM(hidden, hidden, layers)
    state = {k[2:]: v for k, v in data.items() if k.startswith("w.")}
    opt = m.optim.SGD(lstm.parameters(), lr=0.0)  # lr 0: the weights stay torch's
    X, Y = m.tensor(data["x"]), m.tensor(data["y"])
    lstm.load_state_dict({k: m.tensor(a) for k, a in state.items()})

    def step(a: Any, b: Any) -> Any:
        out, _ = lstm(a)
        loss = ((out - b) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    f = tt.compile(step, backend="c") if compiled else step
    return lambda: float(f(X, Y).detach())


ROWS = {"attention": make_attention, "lstm": make_lstm}


def attention_row(B: int, H: int, T: int, D: int, reps: int) -> dict[str, float]:
    return _time_all("attention", make_attention, attention_data(B, H, T, D), reps)


def lstm_row(layers: int, hidden: int, T: int, B: int, reps: int) -> dict[str, float]:
    return _time_all("lstm", make_lstm, lstm_data(layers, hidden, T, B), reps)


def report(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = [f"{'workload':44} {'torch eager':>12} {'tt eager':>16} {'tt c':>16}"]
    for name, t in rows:
        base = t["torch eager"]
        cells = [f"{t['torch eager'] * 1e3:9.2f} ms"]
        for k in ("tt eager", "tt c"):
            cells.append(f"{t[k] * 1e3:8.2f} ms {t[k] / base:5.2f}x")
        lines.append(f"{name:44} " + " ".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def run(quick: bool) -> list[tuple[str, dict[str, float]]]:
    if quick:
        a, l, reps = (2, 2, 16, 8), (1, 16, 5, 3), 2
    else:
        a, l, reps = (8, 4, 256, 32), (2, 256, 35, 20), 10
    return [(f"attention fwd+bwd B={a[0]} H={a[1]} T={a[2]} D={a[3]} causal",
             attention_row(*a, reps)),
            (f"LSTM step L={l[0]} hidden={l[1]} T={l[2]} B={l[3]} (SGD)", lstm_row(*l, reps))]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--tt-child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    print(report(run(p.parse_args().quick)))
