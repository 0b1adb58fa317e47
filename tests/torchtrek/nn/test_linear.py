"""F.linear in eager mode: a large input runs as one compiled graph (the product, the bias
add, and a backward that gives the weight's gradient as g.T @ x). Values and gradients as
torch's, .grad row-major as torch's, accumulation over steps, the small-input op-by-op path
agreeing with it, and torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek.nn._fused import fuse_min_numel


def _pair(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return tt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _close(ours, theirs, **tol):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **tol)


@pytest.mark.parametrize("x_shape", [(8, 64, 128), (512, 128), (64, 128)],
                         ids=["3d-fused", "2d-fused", "small-op-by-op"])
@pytest.mark.parametrize("bias", [True, False])
def test_values_gradients_and_layout_as_torch(x_shape, bias):
    x, xr = _pair(x_shape, 0)
    w, wr = _pair((384, 128), 1)
    b, br = _pair((384,), 2) if bias else (None, None)
    g = np.random.default_rng(3).standard_normal(x_shape[:-1] + (384,)).astype(np.float32)
    for _ in range(2):  # the second backward accumulates into .grad
        y, yr = F.linear(x, w, b), torch.nn.functional.linear(xr, wr, br)
        _close(y, yr, rtol=1e-5, atol=1e-5)
        (y * tt.tensor(g)).sum().backward()
        (yr * torch.tensor(g)).sum().backward()
    for ours, theirs in [(x, xr), (w, wr)] + ([(b, br)] if bias else []):
        _close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-4)
        assert ours.grad.is_contiguous() and ours.grad.shape == theirs.grad.shape
    assert x.numel() < fuse_min_numel() or w.grad.numpy().flags.c_contiguous


def test_a_large_linear_is_one_backward_node():
    x = tt.randn(8, 64, 128, requires_grad=True)
    lin = tt.nn.Linear(128, 256)
    y = lin(x)
    assert y.grad_fn is not None and "AddBackward" not in y.grad_fn.name()
    assert "Linear" in y.grad_fn.name() or "Compiled" in y.grad_fn.name(), y.grad_fn.name()


def test_errors_as_torch():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(512x128 and 127x10\)"):
        F.linear(tt.randn(8, 64, 128), tt.randn(10, 127))
    with pytest.raises(RuntimeError, match="must match the size"):
        F.linear(tt.randn(8, 64, 128), tt.randn(10, 128), tt.randn(9))


def test_one_d_weight_and_no_grad():
    x, xr = _pair((8, 64, 128), 0)
    w, wr = _pair((128,), 1)
    _close(F.linear(x, w), torch.nn.functional.linear(xr, wr), rtol=1e-5, atol=1e-5)
    with tt.no_grad():
        y = F.linear(x, tt.randn(10, 128))
    assert not y.requires_grad and y.shape == (8, 64, 10)
