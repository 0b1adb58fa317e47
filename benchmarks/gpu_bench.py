"""GPU benchmark (run by scripts/gpu_check.sh): TorchTrek's generated CUDA against the
device's copy bandwidth and against torch on the same GPU, printed as ratios.

1. fused elementwise forward and backward vs a device-to-device copy (bytes/s);
2. fp32 matmul 4096^3 vs torch.matmul (TF32 off, like ours);
3. an MLP training step (784-256-10, batch 256, SGD) vs torch eager and torch.compile.
Correctness is checked before anything is timed.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import torchtrek as tt
from torchtrek.runtime import cuda

try:
    import torch
except ImportError:
    torch = None


def timed(fn, reps: int = 20, warmup: int = 3, inner: int = 1) -> float:
    """Median seconds per call. Each sample runs `inner` calls back to back and then
    synchronizes once, so the host's launch work overlaps the GPU's (steady state, as
    in a training loop) and the one synchronization is amortized."""
    for _ in range(warmup):
        fn()
    cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        cuda.synchronize()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def bandwidth() -> None:
    """Bytes are the fewest any implementation must move (x read, y written; for the
    backward x and the incoming gradient read, dx written), so a version that saved
    tanh for the backward would show its extra traffic as lost bandwidth."""
    drv = cuda.init()
    n = 1 << 26  # 256 MiB of float32
    src, dst = cuda.alloc((n,), "float32"), cuda.alloc((n,), "float32")
    t_copy = timed(lambda: drv.memcpy_dtod(dst.gpudata, src.gpudata, src.nbytes), inner=10)
    copy_bw = 2 * src.nbytes / t_copy
    x = tt.randn(n).cuda().requires_grad_()
    f = tt.compile(lambda x: (x * 2 + 1).tanh() * x)
    with tt.no_grad():
        y = f(x.detach())
    xs = x.detach().cpu().numpy()[:1000]
    assert np.allclose(y.cpu().numpy()[:1000], np.tanh(xs * 2 + 1) * xs, rtol=1e-5, atol=1e-6)
    t_fwd = timed(lambda: f(x.detach()), inner=10)
    out = f(x)
    t_fwd_grad = timed(lambda: f(x), inner=10)
    node = out.grad_fn
    ct = tt.ones(n, device="cuda")._data
    (dx,) = node.compiled.run_backward(node.residuals, [ct])
    th = np.tanh(xs * 2 + 1)
    assert np.allclose(dx.get()[:1000], th + 2 * xs * (1 - th * th), rtol=1e-4, atol=1e-5)
    t_bwd = timed(lambda: node.compiled.run_backward(node.residuals, [ct]), inner=10)
    fwd_bw, fwd_grad_bw = 2 * 4 * n / t_fwd, 2 * 4 * n / t_fwd_grad
    bwd_bw = 3 * 4 * n / t_bwd
    print(f"device copy bandwidth           {copy_bw / 1e9:8.0f} GB/s  (cuMemcpyDtoD, 256 MiB)")
    print(f"fused pointwise forward         {fwd_bw / 1e9:8.0f} GB/s  = {fwd_bw / copy_bw:5.0%} of copy")
    print(f"  the same, saving for backward {fwd_grad_bw / 1e9:8.0f} GB/s  = {fwd_grad_bw / copy_bw:5.0%} of copy")
    print(f"fused pointwise backward        {bwd_bw / 1e9:8.0f} GB/s  = {bwd_bw / copy_bw:5.0%} of copy")


def matmul() -> None:
    n = 4096
    a, b = tt.randn(n, n).cuda(), tt.randn(n, n).cuda()
    f = tt.compile(lambda a, b: a @ b)
    c = f(a, b)
    ref = a.cpu().numpy()[:64] @ b.cpu().numpy()
    assert np.allclose(c.cpu().numpy()[:64], ref, rtol=1e-3, atol=1e-2)
    t_ours = timed(lambda: f(a, b), reps=10)
    flops = 2 * n**3
    line = f"fp32 matmul 4096^3              {flops / t_ours / 1e12:8.1f} TFLOP/s"
    if torch is not None and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        ta, tb = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
        t_torch = timed(lambda: (ta @ tb, torch.cuda.synchronize()), reps=10)
        line += f"  torch {flops / t_torch / 1e12:.1f}  ratio ours/torch = {t_torch / t_ours:.2f}"
    print(line)


def mlp_step() -> None:
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((256, 10)) * 0.05).astype(np.float32)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    p1 = tt.tensor(w1, device="cuda", requires_grad=True)
    p2 = tt.tensor(w2, device="cuda", requires_grad=True)
    xs, ys = tt.tensor(x, device="cuda"), tt.tensor(y, device="cuda")

    @tt.compile
    def step(xb, yb):
        p1.grad = None
        p2.grad = None
        loss = tt.nn.functional.cross_entropy(tt.relu(xb @ p1) @ p2, yb)
        loss.backward()
        with tt.no_grad():
            p1.sub_(0.1 * p1.grad)
            p2.sub_(0.1 * p2.grad)
        return loss

    t_ours = timed(lambda: step(xs, ys), reps=20, inner=5)
    line = f"MLP train step (784-256-10)     {t_ours * 1e3:8.3f} ms"
    if torch is not None and torch.cuda.is_available():
        q1 = torch.tensor(w1, device="cuda", requires_grad=True)
        q2 = torch.tensor(w2, device="cuda", requires_grad=True)
        tx, ty = torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda")

        def tstep():
            q1.grad = None
            q2.grad = None
            loss = torch.nn.functional.cross_entropy(torch.relu(tx @ q1) @ q2, ty)
            loss.backward()
            with torch.no_grad():
                q1.sub_(0.1 * q1.grad)
                q2.sub_(0.1 * q2.grad)
            return loss

        t_eager = timed(tstep, reps=20, inner=5)
        line += f"  torch eager {t_eager * 1e3:.3f} ms (ratio {t_eager / t_ours:.2f})"
        try:
            cstep = torch.compile(tstep)
            t_comp = timed(cstep, reps=20, warmup=5, inner=5)
            line += f"  torch.compile {t_comp * 1e3:.3f} ms (ratio {t_comp / t_ours:.2f})"
        except Exception as err:  # torch.compile may be unavailable on the machine
            line += f"  torch.compile unavailable ({type(err).__name__})"
    print(line + "   [ratio > 1: TorchTrek faster]")


def eager_latency() -> None:
    """Per-op cost of eager GPU ops on small tensors (launch + dispatch), vs torch eager."""
    x = tt.ones(256, device="cuda")
    y = tt.ones(256, device="cuda")

    def ours():
        for _ in range(100):
            x + y
    t_ours = timed(ours, reps=20) / 100
    line = f"eager op latency (add, 256)     {t_ours * 1e6:8.1f} us"
    if torch is not None and torch.cuda.is_available():
        tx = torch.ones(256, device="cuda")

        def theirs():
            for _ in range(100):
                tx + tx
            torch.cuda.synchronize()
        t_torch = timed(theirs, reps=20) / 100
        line += f"  torch {t_torch * 1e6:.1f} us  ratio torch/ours = {t_torch / t_ours:.2f}"
    print(line)
    # where an eager op's time goes: one allocation, one launch of the op's kernel
    t_alloc = timed(lambda: [cuda.alloc((256,), "float32") for _ in range(100)], reps=10) / 100
    cg = next(iter(_eager_graphs()), None)
    if cg is not None:
        fwd = cg.forward_fn
        t_launch = timed(lambda: [fwd(x._data, y._data) for _ in range(100)], reps=10) / 100
        print(f"  of which: allocation {t_alloc * 1e6:.1f} us, generated launcher (alloc + launch) "
              f"{t_launch * 1e6:.1f} us, dispatch {(t_ours - t_launch) * 1e6:.1f} us")


def _eager_graphs():
    """The eager add's compiled graph (the one the fast path runs)."""
    from torchtrek import _dispatch

    return [cg for key, cg in _dispatch._EAGER.items() if key[0] == "add" and key[-1] == "cuda"]


if __name__ == "__main__":
    print(f"GPU benchmark, device: {cuda.init().Device(0).name()}")
    for part in (bandwidth, matmul, eager_latency, mlp_step):
        try:
            part()
        except Exception as err:
            print(f"{part.__name__} FAILED: {type(err).__name__}: {err}")
