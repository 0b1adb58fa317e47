"""The eager fast path for binary arithmetic: same results, dtypes, errors and autograd
behaviour as the general path, which decides everything it does not plan."""

import numpy as np
import pytest
import torch

import torchtrek as tt
from torchtrek import _dispatch

CASES = [
    ("mul", lambda a, b: a * b), ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
    ("div", lambda a, b: a / b), ("rmul", lambda a, b: 2 * a), ("rsub", lambda a, b: 1.5 - a),
    ("rdiv", lambda a, b: 3 / a), ("int_scalar", lambda a, b: a * 3 + 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
@pytest.mark.parametrize("name,f", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, f, shape, dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) + 3).astype(dtype)
    b = (rng.standard_normal(shape) + 3).astype(dtype)
    for _ in range(2):  # the first call plans, the second runs the plan
        got = f(tt.tensor(a), tt.tensor(b))
        want = f(torch.tensor(a), torch.tensor(b))
        assert got.dtype.name == str(want.dtype).split(".")[1]
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-3 if dtype == "float16" else 1e-6)


def test_the_plan_is_used():
    x = tt.randn(7)
    x * 2
    n = len(_dispatch._FAST)
    y = x * 2
    assert len(_dispatch._FAST) == n
    assert any(k[0] == "mul" and k[2] == (tt.float32, (7,)) for k in _dispatch._FAST)
    assert not y.requires_grad and y.grad_fn is None


def test_gradients_take_the_general_path():
    x = tt.randn(4, requires_grad=True)
    y = x * 3 + 1
    assert y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 3.0))
    with tt.no_grad():
        z = x * 3
    assert z.grad_fn is None and not z.requires_grad


def test_shape_errors_name_the_line():
    a, b = tt.ones(3), tt.ones(4)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="test_fast_dispatch.py"):
            a + b


def test_results_are_new_tensors_with_their_own_version():
    x = tt.ones(3)
    y = x * 1
    y.add_(1)
    assert x.tolist() == [1.0, 1.0, 1.0]
    assert y.tolist() == [2.0, 2.0, 2.0]


def test_mixed_dtypes_and_ints_take_the_general_path():
    i = tt.tensor([1, 2, 3])
    assert (i * 2).dtype is tt.int64
    assert (i / 2).dtype is tt.float32
    h = tt.ones(2, dtype=tt.float16)
    assert (h * tt.ones(2)).dtype is tt.float32


def test_inside_a_trace_ops_are_recorded():
    f = tt.compile(lambda x: x * 2 + 1, backend="numpy")
    x = tt.randn(5)
    np.testing.assert_allclose(f(x).numpy(), x.numpy() * 2 + 1, rtol=1e-6)
    assert "mul" in f.ir(x)


@pytest.mark.parametrize("name", ["exp", "tanh", "neg", "relu", "sigmoid", "abs", "sqrt", "log"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_unary_ops_match_torch(name, dtype):
    a = (np.arange(-3, 5) * 0.7 + (0.5 if dtype != "int64" else 0)).astype(dtype)
    for _ in range(2):
        got = getattr(tt.tensor(a), name)()
        want = getattr(torch.tensor(a), name)()
        assert got.dtype.name == str(want.dtype).split(".")[1]
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, equal_nan=True)
