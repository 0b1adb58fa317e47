"""x.new_* constructors and index_copy / index_copy_ against torch 2.13."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402


@pytest.mark.parametrize("make", [
    lambda m, x: x.new_zeros(2, 3), lambda m, x: x.new_ones((1, 2)), lambda m, x: x.new_full((2,), 3),
    lambda m, x: x.new_tensor([1, 2]), lambda m, x: x.new_empty(0),
    lambda m, x: x.new_zeros(2, dtype=m.int64), lambda m, x: x.new_ones(1, requires_grad=True),
])
def test_new_methods(make):
    want = make(torch, torch.ones(2, dtype=torch.float64))
    got = make(tt, tt.ones(2, dtype=tt.float64))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    assert tuple(got.shape) == tuple(want.shape) and got.requires_grad == want.requires_grad
    if want.numel():
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())


def test_index_copy_against_torch():
    idx = _h.V([4, 0, 2], "int64")
    _h.check_op(lambda m, x, s, i: m.index_copy(x, 0, i, s), None, [(5, 2), (3, 2), idx], "float32")
    _h.check_op(lambda m, x, s, i: x.index_copy(1, i, s), None, [(2, 5), (2, 3), idx], "float64")
    for m in (torch, tt):
        y = m.zeros(3, 2)
        y.index_copy_(0, m.tensor([2]), m.ones(1, 2))
        assert y.tolist() == [[0, 0], [0, 0], [1, 1]]
        with pytest.raises(IndexError):
            y.index_copy_(0, m.tensor([0, 1]), m.ones(1, 2))
