"""Sequence-model rows, side by side with torch in one run: attention forward + backward
(F.scaled_dot_product_attention, causal) and an LSTM training step (nn.LSTM, 2 layers), each
as torch eager, TorchTrek eager and TorchTrek compiled (C backend), with ratios to torch eager.
Every TorchTrek result is checked against torch's before it is timed.

    python benchmarks/seq_bench.py            # the issue's sizes
    python benchmarks/seq_bench.py --quick    # small sizes (the smoke test)
"""

from __future__ import annotations

import argparse
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


def _time_all(make: Callable[[Any, bool], Callable[[], Any]],
              check: Callable[[Any, Any], None], reps: int) -> dict[str, float]:
    """torch eager, TorchTrek eager and compiled (C): each result checked against torch eager's
    first, then timed."""
    import torch

    import torchtrek as tt

    want = make(torch, False)()
    out = {}
    for name, m, compiled in (("torch eager", torch, False), ("tt eager", tt, False),
                              ("tt c", tt, True)):
        run = make(m, compiled)
        check(run(), want)
        out[name] = median_time(run, reps)
    return out


def attention_row(B: int, H: int, T: int, D: int, reps: int) -> dict[str, float]:
    import torch

    import torchtrek as tt

    rng = np.random.RandomState(0)
    q, k, v = (rng.randn(B, H, T, D).astype(np.float32) for _ in range(3))
    up = rng.randn(B, H, T, D).astype(np.float32)

    def make(m: Any, compiled: bool) -> Callable[[], Any]:
        ts = [m.tensor(a, requires_grad=True) for a in (q, k, v)]
        g = m.tensor(up)

        def fwd_bwd(a: Any, b: Any, c: Any) -> Any:
            out = m.nn.functional.scaled_dot_product_attention(a, b, c, is_causal=True)
            loss = (out * g).sum()
            return loss

        f = tt.compile(fwd_bwd, backend="c") if compiled else fwd_bwd

        def run() -> Any:
            for t in ts:
                t.grad = None
            loss = f(*ts)
            loss.backward()
            return float(loss.detach()), ts[0].grad.numpy()
        return run

    def check(got: Any, want: Any) -> None:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-3, atol=1e-4)

    return _time_all(make, check, reps)


def lstm_row(layers: int, hidden: int, T: int, B: int, reps: int) -> dict[str, float]:
    import torch

    import torchtrek as tt

    rng = np.random.RandomState(1)
    x = rng.randn(T, B, hidden).astype(np.float32)
    y = rng.randn(T, B, hidden).astype(np.float32)
    torch.manual_seed(0)
    ref = torch.nn.LSTM(hidden, hidden, layers)
    state = {k: v.detach().numpy() for k, v in ref.state_dict().items()}

    def make(m: Any, compiled: bool) -> Callable[[], Any]:
        lstm = m.nn.LSTM(hidden, hidden, layers)
        lstm.load_state_dict({k: m.tensor(a) for k, a in state.items()})
        opt = m.optim.SGD(lstm.parameters(), lr=0.01)
        X, Y = m.tensor(x), m.tensor(y)

        def step(a: Any, b: Any) -> Any:
            out, _ = lstm(a)
            loss = ((out - b) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        f = tt.compile(step, backend="c") if compiled else step
        return lambda: float(f(X, Y).detach())

    def check(got: float, want: float) -> None:
        assert abs(got - want) <= 1e-4 * abs(want), (got, want)

    return _time_all(make, check, reps)


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
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    print(report(run(p.parse_args().quick)))
