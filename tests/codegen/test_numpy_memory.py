"""The NumPy backend's memory plan: in-place ufunc chains into scratch buffers that
persist across calls, never shared with what the caller keeps."""

import threading

import numpy as np
import pytest
import sympy
import torch

import torchtrek as tt
from torchtrek.codegen.numpy import generator
from torchtrek.codegen.numpy.inplace import REG, lower
from torchtrek.codegen.numpy.printer import print_expr

N = 1 << 15  # 128 KiB of float32: above INPLACE_MIN_BYTES


def gelu(x):
    return 0.5 * x * (1 + tt.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def _np(fn, backend="numpy"):
    return tt.compile(fn, backend=backend)


def test_big_pointwise_chain_uses_out_buffers():
    x = tt.randn(N)
    src = _np(gelu).source(x)
    assert "def _scratch_gelu():" in src
    assert "out=_b[" in src
    assert "np.tanh(mul_2, out=_b[" in src
    code = "\n".join(l for l in src.splitlines() if not l.strip().startswith("#"))
    assert "**3" not in code  # cubes are two products: NumPy's float power is slow
    # the result the caller receives is never a scratch buffer
    last = [l for l in src.splitlines() if l.strip().startswith("mul_3 = ")][0]
    assert "out=" not in last


def test_small_values_print_as_one_expression():
    src = _np(gelu).source(tt.randn(16))
    assert "out=" not in src and "_scratch" not in src


def test_buffers_are_reused_within_a_call():
    x = tt.randn(N)
    src = _np(tt.value_and_grad(lambda x: gelu(x).sum())).source(x)
    n_buffers = src.count("np.empty(")
    n_written = len({l.split(" = ")[0].strip() for l in src.splitlines() if "out=_b[" in l})
    assert 0 < n_buffers < n_written


def test_results_survive_later_calls():
    f = _np(gelu)
    x1, x2 = tt.randn(N), tt.randn(N)
    r1 = f(x1)
    keep = r1.numpy().copy()
    f(x2)
    f(x2)
    np.testing.assert_array_equal(r1.numpy(), keep)
    t = torch.tensor(x1.numpy())
    ref = 0.5 * t * (1 + torch.tanh(0.7978845608 * (t + 0.044715 * t**3)))
    np.testing.assert_allclose(keep, ref.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tail", [
    lambda h: h.reshape(-1, 8),  # a view of the chain's buffer
    lambda h: h.t(),
    lambda h: h[1:],
    lambda h: h.expand(3, -1, -1),
    lambda h: h,
])
def test_views_of_buffers_that_escape_are_not_overwritten(tail):
    def f(x):
        h = (x * 2 + 1).exp() - x  # intermediates in scratch buffers
        return tail(h.reshape(256, -1) * 3)

    c = _np(f)
    x1, x2 = tt.randn(N), tt.randn(N)
    r1 = c(x1)
    keep = r1.numpy().copy()
    r2 = c(x2)
    np.testing.assert_array_equal(r1.numpy(), keep)
    ref = tail(torch.tensor(((np.exp(x1.numpy() * 2 + 1) - x1.numpy()) * 3).reshape(256, -1)))
    np.testing.assert_allclose(keep, ref.numpy(), rtol=1e-5)
    assert not np.shares_memory(r1.numpy(), r2.numpy())


def test_residuals_for_backward_are_not_overwritten_by_another_forward():
    f = _np(lambda x: (x.sin() * x.cos()).exp().sum())
    a = tt.randn(N, requires_grad=True)
    b = tt.randn(N, requires_grad=True)
    la = f(a)
    lb = f(b)  # a second forward before the first backward
    la.backward()
    lb.backward()
    for t in (a, b):
        ref = torch.tensor(t.detach().numpy(), requires_grad=True)
        (ref.sin() * ref.cos()).exp().sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), ref.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_concurrent_calls_get_their_own_buffers():
    f = _np(lambda x: ((x * 3).tanh() + x).square() - 1)
    xs = [tt.randn(N) for _ in range(4)]
    want = [(np.tanh(x.numpy() * 3) + x.numpy()) ** 2 - 1 for x in xs]
    f(xs[0])  # compile once up front
    errors = []

    def worker(i):
        for _ in range(20):
            got = f(xs[i]).numpy()
            if not np.allclose(got, want[i], rtol=1e-5, atol=1e-6):
                errors.append(i)

    run_in_threads(worker, 4)
    assert not errors


def run_in_threads(worker, n):
    """worker(0) .. worker(n - 1) at once, each in its own thread; returns when all end."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_exported_source_has_the_plan_and_runs_standalone(tmp_path):
    x = tt.randn(N)
    path = tt.export(gelu, x, out=tmp_path / "gelu_export")
    src = path.read_text()
    assert "out=_b[" in src
    ns: dict = {}
    exec(src, ns)
    want = gelu(x).numpy()
    np.testing.assert_allclose(ns["forward"](x.numpy()), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ns["forward"](x.numpy()), want, rtol=1e-5, atol=1e-6)


def test_generation_is_deterministic():
    x = tt.randn(N)
    f = tt.value_and_grad(lambda x: gelu(x).sum())
    assert _np(f).source(x) == _np(f).source(x)


# ---------------------------------------------------------------- the lowering itself
x0, x1, x2 = sympy.symbols("x0 x1 x2", real=True)
EXPRS = [
    x0 * x1, x0 + 2 * x1, 1 - x0**2, x1 * (1 - sympy.tanh(x0) ** 2), 3 * x1 * x0**2,
    -x0, -x0 * x1, x0 / x1, 2 / x0, x0 / (x1 + 1), sympy.sqrt(x0**2 + 1),
    1 / sympy.sqrt(x0**2 + 1), x0**-2 + x1, x0**3 - x1, sympy.exp(x0 - x2),
    sympy.Max(x0, x1 * 2), sympy.Min(x0, 0) + x1, sympy.Abs(x0) * sympy.sign(x1),
    x0 * x1 * x2 - x0, (x0 + x1) ** 3, x0 - x2 / x1, sympy.log(x0**2 + 1) * x2,
    x0 ** sympy.Rational(3, 2) + x1,
]


@pytest.mark.parametrize("expr", EXPRS, ids=str)
def test_lowered_chain_computes_the_formula(expr):
    rng = np.random.default_rng(0)
    vals = {"a": rng.uniform(0.5, 2, (4, 5)).astype(np.float32),
            "b": rng.uniform(-2, 2, (4, 5)).astype(np.float32),
            "c": rng.uniform(0.5, 2, (4, 1)).astype(np.float32)}  # x2 is broadcast
    names = {x0: "a", x1: "b", x2: "c"}
    env = {"np": np, **vals}
    buf = run_lowered(expr, names, {x0, x1}, env, (4, 5))
    want = eval(print_expr(expr, names), env)
    np.testing.assert_allclose(buf, want, rtol=1e-5)


def run_lowered(expr, names, full, env, shape):
    """Lower `expr` and run its ufunc calls on the arrays in `env`: the buffer they fill."""
    calls = lower(expr, names, full)
    assert calls is not None and REG not in calls[0].args
    buf = np.full(shape, np.nan, np.float32)
    for c in calls:
        args = [buf if a is REG else eval(a, env) for a in c.args]
        getattr(np, c.ufunc)(*args, out=buf)
    return buf


def test_roots_without_an_out_ufunc_do_not_lower():
    assert lower(sympy.Piecewise((x0, x0 > 0), (x1, True)), {x0: "a", x1: "b"}, {x0, x1}) is None
    assert lower(x0, {x0: "a"}, {x0}) is None  # an alias costs nothing
    assert lower(x2 * 2, {x2: "c"}, {x0}) is None  # small: one expression


def test_threshold_is_in_bytes():
    assert generator.INPLACE_MIN_BYTES == 1 << 16
