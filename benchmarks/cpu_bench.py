"""CPU benchmark: the issue-6 workloads side by side with NumPy by hand, torch eager,
torch.compile and jax.jit (where installed), float32, medians, ratios to the best peer
and to the memory-bandwidth floor. Every implementation is checked against the NumPy
reference before it is timed.

    python benchmarks/cpu_bench.py                    # full run
    python benchmarks/cpu_bench.py --torch-compile    # also torch.compile (compiles take a while)
    python benchmarks/cpu_bench.py --quick            # small sizes, no torch.compile/jax: a smoke test

TorchTrek rows: `tt c` (compiled, native C backend), `tt numpy` (compiled, NumPy backend),
`tt eager` (op by op).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import torchtrek as tt
import torchtrek.nn.functional as TF

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover
    jax = None

Row = tuple[str, dict[str, float], float]  # name, label -> seconds, floor seconds (0: none)


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 2, inner: int = 1) -> float:
    """Median over `reps` of the time per call of `inner` calls in a row (microsecond
    workloads: the timer and jax's block_until_ready would otherwise dominate)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            out = fn()
        if jax is not None:
            jax.block_until_ready(out)  # jax dispatches asynchronously
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def _np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def close(a: Any, b: np.ndarray, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(_np(a), b, rtol=rtol, atol=atol)


def copy_bandwidth() -> float:
    """Bytes per second a large copy moves (read + write), the floor's yardstick: the
    faster of NumPy's copy (one thread) and torch's (all cores)."""
    src = np.ones(1 << 24, np.float32)
    dst = np.empty_like(src)
    t = median_time(lambda: np.copyto(dst, src), 10)
    if torch is not None:
        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        t = min(t, median_time(lambda: td.copy_(ts), 10))
    return 2 * src.nbytes / t


# ------------------------------------------------------------------ references
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


def ln_grad_np(x: np.ndarray, g: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    r = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xh = (x - mu) * r
    return r * (g - g.mean(-1, keepdims=True) - xh * (g * xh).mean(-1, keepdims=True))


# ------------------------------------------------------------------ workloads
def w3_step(p1: Any, p2: Any) -> Callable[..., Any]:
    """W3's step (fwd, bwd, SGD) over parameters p1, p2: the same text as the fresh
    processes of the latency runs execute (_W3_STEP, below)."""
    ns: dict[str, Any] = {"tt": tt, "TF": TF, "np": np}
    exec(_W3_STEP, ns)
    return ns["make_step"](p1, p2)


def run(quick: bool, with_compile: bool) -> list[Row]:
    rng = np.random.default_rng(0)
    n = 1 << (16 if quick else 22)
    reps = 3 if quick else 10
    rows: list[Row] = []
    bw = copy_bandwidth()
    use_torch = torch is not None
    use_tc = with_compile and use_torch and not quick
    use_jax = jax is not None and not quick

    def record(name: str, impls: dict[str, Callable[[], Any]], check: Callable[[Any], None],
               floor_bytes: int = 0, inner: int = 1) -> None:
        times = {}
        for label, fn in impls.items():
            try:
                check(fn())  # correctness before timing
            except AssertionError as e:
                raise AssertionError(f"{name}: {label} is wrong") from e
            times[label] = median_time(fn, reps, inner=inner)
        rows.append((name, times, floor_bytes / bw))

    def tt_both(f: Callable[..., Any], *args: Any, grad: bool = False) -> dict[str, Callable[[], Any]]:
        out = {}
        for be in ("c", "numpy"):  # like jax.jit(jax.value_and_grad(f))
            cf = tt.compile(tt.value_and_grad(f) if grad else f, backend=be)
            out[f"tt {be}"] = (lambda cf=cf: cf(*args))
        return out

    # W1 gelu forward; value and gradient of sum(gelu(x))
    x = rng.standard_normal(n).astype(np.float32)
    tx = tt.tensor(x)
    ref = gelu_np(x)
    impls = {"numpy": lambda: gelu_np(x)}
    impls.update(tt_both(lambda x: TF.gelu(x, approximate="tanh"), tx))
    impls["tt eager"] = lambda: TF.gelu(tx, approximate="tanh")
    if use_torch:
        px = torch.tensor(x)
        impls["torch eager"] = lambda: torch.nn.functional.gelu(px, approximate="tanh")
        if use_tc:
            tc = torch.compile(lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
            impls["torch.compile"] = lambda: tc(px)
    if use_jax:
        jx = jnp.asarray(x)
        jg = jax.jit(lambda x: jax.nn.gelu(x, approximate=True))
        impls["jax.jit"] = lambda: jg(jx)
    record(f"W1 gelu(tanh) forward, {n} elements", impls, lambda out: close(out, ref),
           2 * x.nbytes)

    gref = gelu_grad_np(x)
    impls = {"numpy": lambda: (gelu_np(x).sum(), gelu_grad_np(x))}
    impls.update(tt_both(lambda x: TF.gelu(x, approximate="tanh").sum(), tx, grad=True))

    def tt_eager_vg():
        p = tx.detach().requires_grad_(True)
        v = TF.gelu(p, approximate="tanh").sum()
        v.backward()
        return v, p.grad
    impls["tt eager"] = tt_eager_vg
    if use_torch:
        def torch_vg():
            p = px.detach().requires_grad_(True)
            v = torch.nn.functional.gelu(p, approximate="tanh").sum()
            v.backward()
            return v, p.grad
        impls["torch eager"] = torch_vg
        if use_tc:
            def tc_vg_fn(p):
                v = torch.nn.functional.gelu(p, approximate="tanh").sum()
                v.backward()
                return v, p.grad
            tc_vg = torch.compile(tc_vg_fn)
            impls["torch.compile"] = lambda: tc_vg(px.detach().requires_grad_(True))
    if use_jax:
        jvg = jax.jit(jax.value_and_grad(lambda x: jax.nn.gelu(x, approximate=True).sum()))
        impls["jax.jit"] = lambda: jvg(jx)
    record("W1 value and gradient of sum(gelu(x))", impls, lambda out: close(out[1], gref),
           2 * x.nbytes)

    # W2 softmax cross-entropy
    b, k = (256, 100) if quick else (4096, 1000)
    z = rng.standard_normal((b, k)).astype(np.float32)
    y = rng.integers(0, k, b)
    tz, ty = tt.tensor(z), tt.tensor(y)
    loss_ref, grad_ref = ce_np(z, y)
    impls = {"numpy": lambda: ce_np(z, y)[0]}
    impls.update(tt_both(lambda z, y: TF.cross_entropy(z, y), tz, ty))
    impls["tt eager"] = lambda: TF.cross_entropy(tz, ty)
    if use_torch:
        pz, py = torch.tensor(z), torch.tensor(y)
        impls["torch eager"] = lambda: torch.nn.functional.cross_entropy(pz, py)
        if use_tc:
            tce = torch.compile(lambda z, y: torch.nn.functional.cross_entropy(z, y))
            impls["torch.compile"] = lambda: tce(pz, py)
    if use_jax:
        jz, jy = jnp.asarray(z), jnp.asarray(y)

        def jce(z, y):
            lp = jax.nn.log_softmax(z)
            return -jnp.mean(jnp.take_along_axis(lp, y[:, None], 1))
        jce_c = jax.jit(jce)
        impls["jax.jit"] = lambda: jce_c(jz, jy)
    record(f"W2 softmax cross-entropy [{b},{k}], loss", impls,
           lambda out: close(np.asarray(float(_np(out))), np.asarray(loss_ref)), z.nbytes)

    impls = {"numpy": lambda: ce_np(z, y)}
    impls.update(tt_both(lambda z, y: TF.cross_entropy(z, y), tz, ty, grad=True))

    def tt_eager_ce():
        p = tz.detach().requires_grad_(True)
        v = TF.cross_entropy(p, ty)
        v.backward()
        return v, p.grad
    impls["tt eager"] = tt_eager_ce
    if use_torch:
        def torch_ce_g():
            p = pz.detach().requires_grad_(True)
            v = torch.nn.functional.cross_entropy(p, py)
            v.backward()
            return v, p.grad
        impls["torch eager"] = torch_ce_g
        if use_tc:
            def tc_ce_fn(p, y):
                v = torch.nn.functional.cross_entropy(p, y)
                v.backward()
                return v, p.grad
            tc_ce = torch.compile(tc_ce_fn)
            impls["torch.compile"] = lambda: tc_ce(pz.detach().requires_grad_(True), py)
    if use_jax:
        jce_g = jax.jit(jax.value_and_grad(jce))
        impls["jax.jit"] = lambda: jce_g(jz, jy)
    record("W2 loss and gradient wrt logits", impls, lambda out: close(out[1], grad_ref),
           2 * z.nbytes)

    # W3 MLP step
    w1 = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((256, 10)) * 0.05).astype(np.float32)
    xb = rng.standard_normal((256, 784)).astype(np.float32)
    yb = rng.integers(0, 10, 256)
    txb, tyb = tt.tensor(xb), tt.tensor(yb)
    impls = {}
    for be in ("c", "numpy"):
        p1, p2 = tt.tensor(w1, requires_grad=True), tt.tensor(w2, requires_grad=True)
        step = w3_step(p1, p2)
        cstep = tt.compile(step, backend=be)
        impls[f"tt {be}"] = lambda cstep=cstep: cstep(txb, tyb)
        if be == "numpy":
            impls["tt eager"] = lambda step=step: step(txb, tyb)

    def np_step(w1=w1.copy(), w2=w2.copy()):
        h = np.maximum(xb @ w1, 0)
        loss, g = ce_np(h @ w2, yb)
        gw2 = h.T @ g
        gh = (g @ w2.T) * (h > 0)
        w1 -= 0.01 * (xb.T @ gh)
        w2 -= 0.01 * gw2
        return loss

    impls["numpy"] = np_step
    if use_torch:
        q1, q2 = torch.tensor(w1, requires_grad=True), torch.tensor(w2, requires_grad=True)
        pxb, pyb = torch.tensor(xb), torch.tensor(yb)

        def torch_step():
            q1.grad = q2.grad = None
            loss = torch.nn.functional.cross_entropy(torch.relu(pxb @ q1) @ q2, pyb)
            loss.backward()
            with torch.no_grad():
                q1.sub_(0.01 * q1.grad)
                q2.sub_(0.01 * q2.grad)
            return loss
        impls["torch eager"] = torch_step
        if use_tc:
            impls["torch.compile"] = torch.compile(torch_step)
    if use_jax:
        def jloss(p, x, y):
            lp = jax.nn.log_softmax(jnp.maximum(x @ p[0], 0) @ p[1])
            return -jnp.mean(jnp.take_along_axis(lp, y[:, None], 1))

        @jax.jit
        def jstep(p, x, y):
            loss, g = jax.value_and_grad(jloss)(p, x, y)
            return loss, (p[0] - 0.01 * g[0], p[1] - 0.01 * g[1])
        jstate = [(jnp.asarray(w1), jnp.asarray(w2))]
        jxb, jyb = jnp.asarray(xb), jnp.asarray(yb)

        def jax_step():
            loss, jstate[0] = jstep(jstate[0], jxb, jyb)
            return loss
        impls["jax.jit"] = jax_step
    record("W3 MLP 784-256-10 step (fwd+bwd+SGD), batch 256", impls,
           lambda out: np.isfinite(float(_np(out))) or (_ for _ in ()).throw(AssertionError()))

    # W4 layer norm
    r, c = (256, 128) if quick else (8192, 1024)
    xl = rng.standard_normal((r, c)).astype(np.float32)
    gl = rng.standard_normal((r, c)).astype(np.float32)
    txl, tgl = tt.tensor(xl), tt.tensor(gl)
    lref = ln_np(xl)
    impls = {"numpy": lambda: ln_np(xl)}
    impls.update(tt_both(lambda x: TF.layer_norm(x, (c,)), txl))
    impls["tt eager"] = lambda: TF.layer_norm(txl, (c,))
    if use_torch:
        pxl, pgl = torch.tensor(xl), torch.tensor(gl)
        impls["torch eager"] = lambda: torch.nn.functional.layer_norm(pxl, (c,))
        if use_tc:
            tln = torch.compile(lambda x: torch.nn.functional.layer_norm(x, (c,)))
            impls["torch.compile"] = lambda: tln(pxl)
    if use_jax:
        jxl, jgl = jnp.asarray(xl), jnp.asarray(gl)

        def jln(x):
            mu = x.mean(-1, keepdims=True)
            return (x - mu) * jax.lax.rsqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
        jln_c = jax.jit(jln)
        impls["jax.jit"] = lambda: jln_c(jxl)
    record(f"W4 layer norm [{r},{c}] forward", impls, lambda out: close(out, lref, 1e-3, 1e-4),
           2 * xl.nbytes)

    lgref = ln_grad_np(xl, gl)
    impls = {"numpy": lambda: (ln_np(xl), ln_grad_np(xl, gl))}
    impls.update(tt_both(lambda x, g: (TF.layer_norm(x, (c,)) * g).sum(), txl, tgl, grad=True))

    def tt_eager_ln():
        p = txl.detach().requires_grad_(True)
        out = TF.layer_norm(p, (c,))
        out.backward(tgl)
        return out, p.grad
    impls["tt eager"] = tt_eager_ln
    if use_torch:
        def torch_ln_g():
            p = pxl.detach().requires_grad_(True)
            out = torch.nn.functional.layer_norm(p, (c,))
            out.backward(pgl)
            return out, p.grad
        impls["torch eager"] = torch_ln_g
        if use_tc:
            def tc_ln_fn(p, g):
                out = torch.nn.functional.layer_norm(p, (c,))
                out.backward(g)
                return out, p.grad
            tc_ln = torch.compile(tc_ln_fn)
            impls["torch.compile"] = lambda: tc_ln(pxl.detach().requires_grad_(True), pgl)
    if use_jax:
        jln_g = jax.jit(jax.value_and_grad(lambda x, g: (jln(x) * g).sum()))
        impls["jax.jit"] = lambda: jln_g(jxl, jgl)
    record("W4 layer norm forward + backward", impls,
           lambda out: close(out[1], lgref, 1e-3, 1e-3), 4 * xl.nbytes)

    # W5 per-call overhead on 16 elements (reported in microseconds)
    s = rng.standard_normal(16).astype(np.float32)
    ts = tt.tensor(s)
    impls = {"numpy": lambda: s * 2 + 1}
    impls.update(tt_both(lambda x: x * 2 + 1, ts))
    impls["tt eager"] = lambda: ts * 2 + 1
    if use_torch:
        ps = torch.tensor(s)
        impls["torch eager"] = lambda: ps * 2 + 1
        if use_tc:
            tsm = torch.compile(lambda x: x * 2 + 1)
            impls["torch.compile"] = lambda: tsm(ps)
    if use_jax:
        js = jnp.asarray(s)
        jsm = jax.jit(lambda x: x * 2 + 1)
        impls["jax.jit"] = lambda: jsm(js)
    record("W5 x*2+1 on 16 elements, per call", impls, lambda out: close(out, s * 2 + 1),
           inner=200)
    return rows


# ------------------------------------------------------------------ compile latency
# W3's step again, standalone: the fresh process must not import this module (torch and jax
# would dominate its start-up), so the step is spelled out here.
_W3_STEP = """
def make_step(p1, p2):
    def step(x, y):
        p1.grad = None
        p2.grad = None
        loss = TF.cross_entropy(tt.relu(x @ p1) @ p2, y)
        loss.backward()
        with tt.no_grad():
            p1.sub_(0.01 * p1.grad)
            p2.sub_(0.01 * p2.grad)
        return loss
    return step
def params():
    return (tt.tensor((rng.standard_normal((784, 256)) * 0.05).astype(np.float32), requires_grad=True),
            tt.tensor((rng.standard_normal((256, 10)) * 0.05).astype(np.float32), requires_grad=True))
def batch(b):
    return (tt.tensor(rng.standard_normal((b, 784)).astype(np.float32)),
            tt.tensor(rng.integers(0, 10, b)))
"""

_W3_SCRIPT = """
import time, numpy as np
t0 = time.perf_counter()
import torchtrek as tt
import torchtrek.nn.functional as TF
t_import = time.perf_counter() - t0
rng = np.random.default_rng(0)
""" + _W3_STEP + """
step = tt.compile(make_step(*params()), backend="{backend}")
x, y = batch(256)
t0 = time.perf_counter()
step(x, y)
print(time.perf_counter() - t0)
"""

_NEW_SIZE_SCRIPT = """
import time, numpy as np, torchtrek as tt, torchtrek.nn.functional as TF
rng = np.random.default_rng(0)
""" + _W3_STEP + """
for dynamic in (False, True):
    step = tt.compile(make_step(*params()), backend="{backend}", dynamic=dynamic)
    step(*batch(256))
    step(*batch(255))  # (automatic dynamic would start here; the timed sizes are new)
    firsts = []
    for b in (200, 300, 128, 64):
        xb = batch(b)
        t0 = time.perf_counter()
        step(*xb)
        firsts.append(time.perf_counter() - t0)
    xb = batch(256)
    step(*xb)
    t0 = time.perf_counter()
    for _ in range(50):
        step(*xb)
    print(float(np.median(firsts)), (time.perf_counter() - t0) / 50)
"""


def _fresh_processes(script: str, backend: str, runs: int = 1) -> list[list[str]]:
    """stdout lines of `script` run in fresh processes sharing one new cache folder."""
    with tempfile.TemporaryDirectory(prefix="torchtrek-bench-cache-") as d:
        env = dict(os.environ, TORCHTREK_CACHE_DIR=d)
        env.pop("TORCHTREK_VERIFY", None)
        return [subprocess.run([sys.executable, "-c", script.replace("{backend}", backend)],
                               capture_output=True, text=True, env=env, check=True
                               ).stdout.strip().splitlines() for _ in range(runs)]


def new_size_latency(backend: str) -> list[tuple[float, float]]:
    """W3's first call at a new batch size (median of four sizes) and a later call's time,
    specialized per size (dynamic=False) and shape-generic (dynamic=True); fresh caches."""
    (lines,) = _fresh_processes(_NEW_SIZE_SCRIPT, backend)
    return [(float(a), float(b)) for a, b in (ln.split() for ln in lines[-2:])]


def compile_latency(backend: str) -> tuple[float, float]:
    """W3's first call in a fresh process: with an empty cache, then with a warm one."""
    cold, warm = _fresh_processes(_W3_SCRIPT, backend, runs=2)
    return float(cold[-1]), float(warm[-1])


# ------------------------------------------------------------------ report
def report(rows: list[Row]) -> str:
    labels: list[str] = []
    for _, times, _ in rows:
        labels += [k for k in times if k not in labels]
    peers = [k for k in labels if not k.startswith("tt")]
    ours = [k for k in labels if k.startswith("tt")]
    head = ["workload"] + peers + ours + ["floor"] + [f"{k} / best peer" for k in ours]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, times, floor in rows:
        scale = 1e6 if name.startswith("W5") else 1e3
        unit = " µs" if name.startswith("W5") else ""
        best = min((times[k] for k in peers if k in times), default=float("nan"))
        cells = [name + (" (µs)" if unit else "")]
        cells += [f"{times[k] * scale:.3g}" if k in times else "—" for k in peers + ours]
        cells.append(f"{floor * scale:.3g}" if floor else "—")
        cells += [f"{times[k] / best:.2f}" if k in times else "—" for k in ours]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ threads
def thread_throughput(backend: str, steps: int = 40) -> tuple[float, float]:
    """W3 steps per second in one thread, and in two threads at once (each its own
    parameters and compiled step, both compiled before timing): the C kernels and
    NumPy's matmuls release the GIL, so the two threads' work overlaps."""
    import threading

    rng = np.random.default_rng(0)
    xb = tt.tensor(rng.standard_normal((256, 784)).astype(np.float32))
    yb = tt.tensor(rng.integers(0, 10, 256))

    def make() -> Callable[[], Any]:
        p1 = tt.tensor((rng.standard_normal((784, 256)) * 0.05).astype(np.float32), requires_grad=True)
        p2 = tt.tensor((rng.standard_normal((256, 10)) * 0.05).astype(np.float32), requires_grad=True)
        step = tt.compile(w3_step(p1, p2), backend=backend)
        step(xb, yb)
        return lambda: [float(step(xb, yb)) for _ in range(steps)]

    loops = [make(), make()]
    best1, best2 = math.inf, math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        loops[0]()
        best1 = min(best1, time.perf_counter() - t0)
        threads = [threading.Thread(target=f) for f in loops]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best2 = min(best2, time.perf_counter() - t0)
    return steps / best1, 2 * steps / best2


def _thread_throughput_process(backend: str, env: dict[str, str]) -> tuple[float, float]:
    """thread_throughput in a fresh process (thread-pool sizes are read at start-up)."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--thread-child", backend],
                       env=dict(os.environ, **env), capture_output=True, text=True, check=True)
    one, two = r.stdout.split()[-2:]
    return float(one), float(two)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    versions = [f"numpy {np.__version__}"]
    if torch is not None:
        versions.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    if jax is not None:
        versions.append(f"jax {jax.__version__}")
    return f"{os.cpu_count()} cores, {cpu}; " + ", ".join(versions)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    ap.add_argument("--torch-compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--no-latency", action="store_true", help="skip the compile-latency runs")
    ap.add_argument("--thread-child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.thread_child:
        print(*thread_throughput(a.thread_child))
        sys.exit(0)
    print(machine())
    print("milliseconds unless noted; medians; floor = bytes moved / copy bandwidth")
    print(report(run(a.quick, a.torch_compile)))
    if not a.no_latency and not a.quick:
        for be in ("numpy", "c"):
            cold, warm = compile_latency(be)
            print(f"W3 first call, backend {be}: cold caches {cold * 1e3:.0f} ms, "
                  f"warm disk cache {warm * 1e3:.0f} ms")
        for be in ("c", "numpy"):
            for pools, env in (("kernels on all cores", {}),
                               ("kernels on one core each", {"OMP_NUM_THREADS": "1",
                                                             "OPENBLAS_NUM_THREADS": "1"})):
                one, two = _thread_throughput_process(be, env)
                print(f"W3 in two threads at once, backend {be}, {pools}: {two:.0f} steps/s "
                      f"vs {one:.0f} in one thread ({two / one:.2f}x)")
        for be in ("numpy", "c"):
            (s_first, s_call), (d_first, d_call) = new_size_latency(be)
            print(f"W3 at a new batch size, backend {be}: first call {s_first * 1e3:.0f} ms "
                  f"specialized / {d_first * 1e3:.1f} ms dynamic=True; later calls "
                  f"{s_call * 1e3:.2f} / {d_call * 1e3:.2f} ms")
