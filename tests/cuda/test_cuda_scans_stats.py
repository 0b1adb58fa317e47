"""cumsum/cumprod, var/std/norm and dropout's random source on the GPU, against the NumPy
backend (and torch on CUDA where installed): eager and compiled, forward and backward."""

import importlib.util

import numpy as np
import pytest

import torchtrek as tt
import torchtrek.nn.functional as F

from gpu_harness import TORCH_CUDA, torch

RNG = np.random.default_rng(0)


def lib(x):
    return tt if isinstance(x, tt.Tensor) else torch


# (name, fn, input shape, zeros in the input?)
CASES = [
    ("cumsum_last", lambda x: x.cumsum(-1), (5, 300), False),
    ("cumsum_dim0", lambda x: x.cumsum(0), (7, 3, 4), False),
    ("cumsum_many_lines", lambda x: x.cumsum(0), (6, 5000), False),
    ("cumsum_long_1d", lambda x: x.cumsum(0), (20000,), False),
    ("cumprod_mid", lambda x: x.cumprod(1), (3, 9, 2), False),
    ("cumprod_zeros", lambda x: x.cumprod(-1), (4, 10), True),
    ("cumprod_zeros_dim0", lambda x: x.cumprod(0), (10, 3), True),
    ("var_dim", lambda x: lib(x).var(x, 1), (6, 50), False),
    ("var_correction0_keep", lambda x: lib(x).var(x, (0, 2), correction=0, keepdim=True), (3, 4, 5), False),
    ("std_all", lambda x: lib(x).std(x), (9, 7), False),
    ("std_dim_keep", lambda x: x.std(-1, keepdim=True), (4, 3, 33), False),
    ("var_shifted", lambda x: lib(x).var(x + 100.0, 0), (300, 4), False),
    ("norm_2", lambda x: x.norm(dim=1), (5, 40), False),
    ("norm_3", lambda x: x.norm(3, 1), (5, 40), False),
    ("norm_half", lambda x: x.norm(0.5, 0), (6, 7), False),
    ("norm_0", lambda x: x.norm(0, 1), (5, 8), True),
    ("norm_inf", lambda x: x.norm(float("inf"), 1), (5, 8), False),
    ("norm_neg_inf", lambda x: x.norm(-float("inf"), 1), (5, 8), False),
    ("norm_all_keep", lambda x: x.norm(2.5, (0, 1), keepdim=True), (4, 6), False),
]


def _input(shape, zeros):
    a = RNG.standard_normal(shape).astype(np.float32)
    if zeros:
        a[np.abs(a) < 0.6] = 0
    return a


def _run(fn, a, device, compiled, grad_seed=1):
    x = tt.tensor(a, device=device, requires_grad=True)
    f = tt.compile(fn) if compiled else fn
    out = f(x)
    ct = np.asarray(np.random.default_rng(grad_seed).standard_normal(tuple(out.shape)), np.float32)
    out.backward(tt.tensor(ct, device=device))
    return out.cpu().detach().numpy(), x.grad.cpu().numpy(), ct


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,fn,shape,zeros", CASES, ids=[c[0] for c in CASES])
def test_on_gpu_matches_numpy_backend(name, fn, shape, zeros, compiled):
    a = _input(shape, zeros)
    tol = dict(rtol=1e-4, atol=2e-3) if name == "cumsum_long_1d" else dict(rtol=1e-4, atol=1e-4)
    out_cpu, g_cpu, ct = _run(fn, a, "cpu", compiled)
    out_gpu, g_gpu, _ = _run(fn, a, "cuda", compiled)
    np.testing.assert_allclose(out_gpu, out_cpu, **tol)
    np.testing.assert_allclose(g_gpu, g_cpu, **tol)
    if TORCH_CUDA:
        t = torch.tensor(a, device="cuda", requires_grad=True)
        ref = fn(t)
        ref.backward(torch.tensor(ct, device="cuda"))
        np.testing.assert_allclose(out_gpu, ref.detach().cpu().numpy(), **tol)
        # torch leaves no gradient for p = 0 (TorchTrek's is zeros)
        g_ref = t.grad.cpu().numpy() if t.grad is not None else np.zeros_like(a)
        np.testing.assert_allclose(g_gpu, g_ref, **tol)


def test_cumsum_of_a_million_elements_and_integer_scans():
    a = RNG.standard_normal(10**6).astype(np.float32)
    out = tt.compile(lambda x: x.cumsum(0))(tt.tensor(a, device="cuda")).cpu().numpy()
    ref = np.cumsum(a.astype(np.float64))
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=0.05)
    q = np.float32(1 + 2**-20)
    r = tt.compile(lambda x: x.cumprod(0)[-1])(tt.tensor(np.full(10**6, q), device="cuda"))
    np.testing.assert_allclose(float(r.cpu()), float(q) ** 10**6, rtol=1e-2)  # float32 rounding
    i = RNG.integers(-1000, 1000, (3, 50000))
    got = tt.tensor(i, device="cuda").cumsum(1).cpu().numpy()
    assert got.dtype == np.int64 and np.array_equal(got, np.cumsum(i, 1))
    got = (tt.tensor(i, device="cuda") > 0).cumsum(0).cpu().numpy()
    assert np.array_equal(got, np.cumsum(i > 0, 0))
    got = tt.tensor(np.array([[2, 3], [4, 5]]), device="cuda").cumprod(0).cpu().numpy()
    assert np.array_equal(got, [[2, 3], [8, 15]])


def test_var_std_dtypes_and_edge_cases():
    a = RNG.standard_normal((4, 5, 6))
    x = tt.tensor(a, device="cuda")  # float64
    np.testing.assert_allclose(x.var((0, 2), correction=2).cpu().numpy(),
                               a.var((0, 2), ddof=2), rtol=1e-10)
    np.testing.assert_allclose(x.std(1, unbiased=False).cpu().numpy(), a.std(1), rtol=1e-10)
    one = tt.tensor(np.ones((1, 3), np.float32), device="cuda")
    assert np.isnan(one.var(0).cpu().numpy()).all()  # dof 0: 0 / 0
    empty = tt.tensor(np.ones((3, 0), np.float32), device="cuda")
    assert np.isnan(empty.var(1).cpu().numpy()).all()
    np.testing.assert_array_equal(empty.norm(dim=1).cpu().numpy(), np.zeros(3, np.float32))


# ------------------------------------------------------------------ dropout / uniform
def _train_step():
    w = tt.tensor(np.ones((64, 64), np.float32), device="cuda", requires_grad=True)

    @tt.compile
    def step(x, w):
        h = F.dropout(x @ w, p=0.25, training=True)
        loss = h.sum()
        loss.backward()
        return loss, h

    return step, w


def test_dropout_in_a_compiled_training_step():
    x = tt.tensor(np.ones((32, 64), np.float32), device="cuda")
    step, w = _train_step()
    tt.manual_seed(1234)
    _, h1 = step(x, w)
    g1 = w.grad.cpu().numpy().copy()
    w.grad = None
    _, h2 = step(x, w)  # a fresh mask on every call
    m1, m2 = h1.cpu().numpy() != 0, h2.cpu().numpy() != 0
    assert abs(m1.mean() - 0.75) < 0.03 and abs(m2.mean() - 0.75) < 0.03
    assert (m1 != m2).mean() > 0.2
    # kept values are scaled by 1 / (1 - p); the gradient sees the same mask
    np.testing.assert_allclose(h1.cpu().numpy()[m1], 64 / 0.75, rtol=1e-5)
    # d(sum h)/dw[k, j] = sum_i x[i, k] * mask[i, j] / 0.75, with x all ones
    np.testing.assert_allclose(g1, np.broadcast_to(m1.sum(0) / 0.75, (64, 64)), rtol=1e-5)
    tt.manual_seed(1234)  # reseeding replays the stream
    _, h1b = step(x, w)
    _, h2b = step(x, w)
    np.testing.assert_array_equal(h1b.cpu().numpy(), h1.cpu().numpy())
    np.testing.assert_array_equal(h2b.cpu().numpy(), h2.cpu().numpy())
    tt.manual_seed(99)
    _, h3 = step(x, w)
    assert ((h3.cpu().numpy() != 0) != m1).mean() > 0.2


def test_dropout_float64_statistics():
    x = tt.tensor(np.ones((1000, 33)), device="cuda")  # 33000 values: not whole Philox groups
    f = tt.compile(lambda x: F.dropout(x, p=0.6))
    y = f(x).cpu().numpy()
    assert y.dtype == np.float64
    keep = y != 0
    assert abs(keep.mean() - 0.4) < 0.02
    np.testing.assert_allclose(y[keep], 1 / 0.4, rtol=1e-12)


def test_dropout_in_an_exported_cuda_module(tmp_path):
    def f(x):
        return F.dropout(x, p=0.5)

    path = tt.export(f, tt.ones(40, 50), target="cuda", out=tmp_path / "cu")
    spec = importlib.util.spec_from_file_location("exp_dropout", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.ones((40, 50), np.float32)
    mod.manual_seed(5)
    a, b = mod.forward(x), mod.forward(x)
    assert abs((a != 0).mean() - 0.5) < 0.05 and ((a != 0) != (b != 0)).mean() > 0.2
    mod.manual_seed(5)
    np.testing.assert_array_equal(mod.forward(x), a)


def test_eager_dropout_on_a_cuda_tensor():
    x = tt.tensor(np.ones((100, 100), np.float32), device="cuda")
    y = F.dropout(x, 0.5).cpu().numpy()
    assert abs((y != 0).mean() - 0.5) < 0.05
