"""Eager autograd of torchtrek, checked against torch: backward, grad accumulation,
graph shapes (diamonds, broadcasting, non-leaf chains), grad modes and errors."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

import torchtrek as tt


def run_both(fn):
    """fn(m) with m = torch and m = tt; returns (torch result, tt result)."""
    return fn(torch), fn(tt)


def to_np(x):
    return None if x is None else np.asarray(x.detach().numpy())


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6):
    """Compare (nested tuples of) tensors/None/python values from tt and torch."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, b, rtol, atol)
    elif isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tt.Tensor), ours
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(to_np(ours), to_np(theirs), rtol=rtol, atol=atol)
    else:
        assert ours == theirs


def grads_of(*tensors):
    return tuple(t.grad for t in tensors)


# ------------------------------------------------------------------ the seed example


def test_seed_example_prints_exactly():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        x = tt.tensor(2.0, requires_grad=True)
        y = x ** 2 + 3 * x + 5
        y.backward()
        print(x.grad)
    assert out.getvalue() == "tensor(7.)\n"


def test_seed_example_matches_torch():
    def f(m):
        x = m.tensor(2.0, requires_grad=True)
        y = x ** 2 + 3 * x + 5
        y.backward()
        return y.detach(), x.grad, repr(x.grad).replace("torch.", "torchtrek.")

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


# ------------------------------------------------------------------ leaf / grad_fn bookkeeping


def test_leaf_and_grad_fn_attributes_match_torch():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        c = m.tensor([3.0, 4.0])
        y = x * c
        z = c * 2
        return (x.is_leaf, x.requires_grad, x.grad_fn is None,
                y.is_leaf, y.requires_grad, type(y.grad_fn).__name__,
                z.is_leaf, z.requires_grad, z.grad_fn is None,
                c.is_leaf)

    theirs, ours = run_both(f)
    assert ours == theirs


def test_requires_grad_underscore_matches_torch():
    def f(m):
        x = m.tensor([1.0, 2.0])
        r = x.requires_grad_()
        y = (x * x).sum()
        y.backward()
        return r is x, x.requires_grad, x.grad, x.requires_grad_(False).requires_grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_requires_grad_underscore_on_non_leaf_raises():
    def f(m):
        x = m.tensor([1.0], requires_grad=True)
        (x * 2).requires_grad_(False)

    with pytest.raises(RuntimeError, match="leaf"):
        f(torch)
    with pytest.raises(RuntimeError, match="leaf"):
        f(tt)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_requires_grad_on_int_tensor_raises(dtype):
    with pytest.raises(RuntimeError, match="floating point"):
        torch.ones(2, dtype=getattr(torch, dtype), requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        tt.ones(2, dtype=getattr(tt, dtype), requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        tt.ones(2, dtype=getattr(tt, dtype)).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        tt.tensor([1, 0], dtype=getattr(tt, dtype), requires_grad=True)


def test_detach_matches_torch():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        d = y.detach()
        out = (d * x).sum()
        out.backward()
        return (d, d.requires_grad, d.is_leaf, d.grad_fn is None, x.grad,
                x.detach().requires_grad, x.requires_grad)

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


# ------------------------------------------------------------------ gradients vs torch


def _scalar_grad_case(expr):
    def f(m):
        x = m.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
        w = m.tensor([0.3, -0.2, 0.9], requires_grad=True)
        out = expr(m, x, w)
        out.backward()
        return out.detach(), x.grad, w.grad

    return f


GRAD_CASES = {
    "polynomial": lambda m, x, w: (x ** 3 - 2 * x ** 2 + x * w).sum(),
    "diamond": lambda m, x, w: ((x * x) * (x + w) + (x * x).exp() * 0.1).mean(),
    "diamond_deep": lambda m, x, w: (lambda a: (a * a + a.sin() * a).sum())(x * w + 1),
    "reuse_many": lambda m, x, w: (x + x + x * x + x / (x * x + 1)).sum(),
    "broadcast_row": lambda m, x, w: (x * w).sum(),
    "broadcast_col": lambda m, x, w: (x.T * w.reshape(3, 1) + w.reshape(3, 1)).exp().sum(),
    "broadcast_both": lambda m, x, w: (x.reshape(2, 1, 3) - w.reshape(1, 3, 1)).pow(2).mean(),
    "broadcast_scalar_tensor": lambda m, x, w: (x * w.sum()).tanh().sum(),
    "broadcast_unsqueeze": lambda m, x, w: (x.unsqueeze(0) * w.reshape(3, 1, 1).flatten(1)
                                            .unsqueeze(-1).permute(0, 2, 1)).pow(2).sum(),
    "matmul": lambda m, x, w: (x @ w).sigmoid().sum(),
    "matmul_2d": lambda m, x, w: (x.T @ x * w).relu().mean(),
    "unary_mix": lambda m, x, w: (x.abs().sqrt() + x.sigmoid() * x.cos()
                                  - (x * x + 1).log()).sum(),
    "division": lambda m, x, w: (w / (x * x + 1) - 3 / (w * w + 2)).sum(),
    "shape_ops": lambda m, x, w: (x.reshape(3, 2).transpose(0, 1).flatten() ** 2).sum()
    + (w.unsqueeze(0).squeeze() * 2).sum(),
    "reductions": lambda m, x, w: x.sum(0).mean() * w.mean() + x.mean(1).sum(),
    "sum_keepdim": lambda m, x, w: (x / x.sum(1, keepdim=True) * w).sum(),
    "relu_where": lambda m, x, w: m.where(x > 0, x * w, -x).sum(),
    "pow_tensor_exponent": lambda m, x, w: (x.abs() + 1).pow(w).sum(),
    "rpow": lambda m, x, w: (2 ** x).sum(),
    "neg_sub": lambda m, x, w: (-(1 - x) - w).sum(),
    "dtype_roundtrip": lambda m, x, w: (x.double() * 2).float().sum() + w.double().sum().float(),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradients_match_torch(name):
    theirs, ours = run_both(_scalar_grad_case(GRAD_CASES[name]))
    assert_close(ours, theirs)


def test_non_leaf_chain_gradients():
    def f(m):
        x = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
        a = x * 2
        b = a.exp() * a
        c = b.sum() + a.sum()
        c.backward()
        return x.grad, a.is_leaf, b.is_leaf, a.requires_grad, a.grad_fn is not None

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_non_leaf_grad_is_not_populated():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward()
    assert y.grad is None
    assert x.grad.tolist() == [8.0, 16.0]


def test_mixed_leaves_some_without_grad():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        c = m.tensor([5.0, 7.0])
        (x * c + c * c).sum().backward()
        return x.grad, c.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_float64_gradients_keep_dtype():
    def f(m):
        x = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        (x.exp() * x).sum().backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs, rtol=1e-12)
    assert ours.dtype == tt.float64


@pytest.mark.parametrize("rank", [0, 1, 2, 3, 4])
def test_gradients_for_each_rank(rank):
    shape = (2, 3, 1, 2)[:rank]
    data = (np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) - 2.5) / 3

    def f(m):
        x = m.tensor(data, requires_grad=True)
        (x * x.tanh() + x).sum().backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


# ------------------------------------------------------------------ backward(gradient=...)


def test_backward_with_gradient_argument():
    def f(m):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * x + x.exp()
        y.backward(m.tensor([[1.0, 0.5], [-2.0, 0.0]]))
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_backward_with_gradient_keyword_on_scalar():
    def f(m):
        x = m.tensor(1.5, requires_grad=True)
        (x * x).backward(gradient=m.tensor(3.0))
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_backward_gradient_shape_mismatch_raises():
    for m in (torch, tt):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Mismatch in shape"):
            (x * 2).backward(m.tensor([1.0, 2.0, 3.0]))


# ------------------------------------------------------------------ accumulation / retain_graph


def test_grad_accumulates_across_backward_calls():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        first = x.grad.clone()
        (x * 3).sum().backward()
        return first, x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_grad_reset_to_none():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        x.grad = None
        (x ** 3).sum().backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_retain_graph_twice_doubles_grads():
    def f(m):
        x = m.tensor([1.0, -2.0], requires_grad=True)
        w = m.tensor(0.5, requires_grad=True)
        y = (x * x * w + (x * w).exp()).sum()
        y.backward(retain_graph=True)
        once = (x.grad.clone(), w.grad.clone())
        y.backward(retain_graph=True)
        twice = (x.grad.clone(), w.grad.clone())
        y.backward()  # a third pass still works; this one frees the graph
        return once, twice, x.grad, w.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)
    (x1, w1), (x2, w2) = ours[0], ours[1]
    np.testing.assert_allclose(x2.numpy(), 2 * x1.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w2.numpy(), 2 * w1.numpy(), rtol=1e-6)


def test_retain_graph_keyword_positional():
    def f(m):
        x = m.tensor(2.0, requires_grad=True)
        y = x * x
        y.backward(None, True)
        y.backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


# ------------------------------------------------------------------ second backward


SECOND_BACKWARD = {
    # saved buffers: torch raises
    "mul_self": lambda m, x: (x * x).sum(),
    "mul_scalar": lambda m, x: (x * 2).sum(),
    "exp": lambda m, x: x.exp().sum(),
    "pow": lambda m, x: (x ** 2).sum(),
    "mean_of_square": lambda m, x: (x * x + 1).mean(),
    "matmul": lambda m, x: x @ x,
    # nothing saved: torch runs again and accumulates
    "add_scalar": lambda m, x: (x + 1).sum(),
    "sum": lambda m, x: x.sum(),
    "sub_neg": lambda m, x: (-(x - 3)).sum(),
    "reshape_sum": lambda m, x: x.reshape(2, 1).sum(),
    "add_tensors": lambda m, x: (x + x).sum(),
    "mean": lambda m, x: x.mean(),
}


@pytest.mark.parametrize("name", list(SECOND_BACKWARD))
def test_second_backward_matches_torch(name):
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = SECOND_BACKWARD[name](m, x)
        y.backward()
        try:
            y.backward()
        except RuntimeError as e:
            return "raised", "backward through the graph a second time" in str(e), x.grad
        return "ok", None, x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_second_backward_error_message():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


# ------------------------------------------------------------------ error cases


def test_backward_non_scalar_without_gradient_raises():
    for m in (torch, tt):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            (x * 2).backward()


def test_backward_on_tensor_not_requiring_grad_raises():
    for m in (torch, tt):
        with pytest.raises(RuntimeError, match="does not require grad"):
            m.tensor(1.0).backward()
        with pytest.raises(RuntimeError, match="does not require grad"):
            (m.tensor([1.0, 2.0]) * 2).sum().backward()
        x = m.tensor(1.0, requires_grad=True)
        with m.no_grad():
            y = x * 2
        with pytest.raises(RuntimeError, match="does not require grad"):
            y.backward()


# ------------------------------------------------------------------ grad modes


def test_no_grad_results_have_no_graph():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with m.no_grad():
            y = x * 2 + x.exp()
            z = (x * x).sum()
        return (y, y.requires_grad, y.grad_fn is None, y.is_leaf,
                z.requires_grad, z.grad_fn is None, m.is_grad_enabled())

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_no_grad_restores_mode_after_exception():
    for m in (torch, tt):
        with pytest.raises(ValueError):
            with m.no_grad():
                raise ValueError
        assert m.is_grad_enabled()


def test_no_grad_as_decorator():
    def f(m):
        @m.no_grad()
        def double(v):
            return v * 2

        x = m.tensor([1.0], requires_grad=True)
        y = double(x)
        return y, y.requires_grad, m.is_grad_enabled()

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_enable_grad_inside_no_grad():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with m.no_grad():
            with m.enable_grad():
                y = (x * x).sum()
            z = x * 2
        y.backward()
        return y.requires_grad, type(y.grad_fn).__name__, z.requires_grad, x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_set_grad_enabled_context_and_call():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with m.set_grad_enabled(False):
            a = x * 2
            inside = m.is_grad_enabled()
        after_ctx = m.is_grad_enabled()
        with m.set_grad_enabled(True):
            b = x * 2
        m.set_grad_enabled(False)
        try:
            c = x * 2
            off = m.is_grad_enabled()
        finally:
            m.set_grad_enabled(True)
        d = x * 2
        return (a.requires_grad, inside, after_ctx, b.requires_grad, c.requires_grad, off,
                d.requires_grad, m.is_grad_enabled())

    theirs, ours = run_both(f)
    assert ours == theirs


def test_no_grad_then_backward_through_outside_part():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with m.no_grad():
            scale = (x * x).sum()
        (x * scale).sum().backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


# ------------------------------------------------------------------ values at edges of the domain


@pytest.mark.parametrize(
    "name,fn",
    [
        ("square_pow", lambda x: x ** 2),
        ("cube_pow", lambda x: x ** 3),
        ("square_mul", lambda x: x * x),
        ("sigmoid", lambda x: x.sigmoid()),
        ("tanh", lambda x: x.tanh()),
        ("relu", lambda x: x.relu()),
        ("abs", lambda x: x.abs()),
        ("exp", lambda x: x.exp()),
        ("reciprocal_pow", lambda x: (x * x + 1) ** -1.0),
    ],
)
def test_gradients_at_zero_and_large_inputs(name, fn):
    """torch's derivative of x**2 at 0 is 0 (not nan); saturating functions give 0."""
    def f(m):
        x = m.tensor([-60.0, -2.0, 0.0, 2.0, 60.0], requires_grad=True)
        fn(x).sum().backward()
        return x.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs, rtol=1e-4)


def test_mse_with_zero_residual_has_finite_gradient():
    def f(m):
        pred = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        target = m.tensor([1.0, 2.5, 3.0])
        ((pred - target) ** 2).mean().backward()
        return pred.grad

    theirs, ours = run_both(f)
    assert_close(ours, theirs)


def test_leaf_grad_keeps_the_leaf_layout_as_torch():
    """torch's layout contract: a leaf's .grad has the leaf's strides, even where the
    gradient arrives transposed (a linear layer's weight: (x^T g)^T)."""
    for lib in (torch, tt):
        lib.manual_seed(0)
        lin = lib.nn.Linear(4, 3)
        lin(lib.ones(2, 4)).sum().backward()
        assert lin.weight.grad.is_contiguous(), lib.__name__
    np.testing.assert_array_equal(tt.nn.Linear(4, 3).weight.grad is None, True)
