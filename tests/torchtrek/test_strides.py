"""Tensor.stride(), storage_offset() and data_ptr() as torch's for eager tensors and their
views (programs check `x.stride(-1) == 1` before a kernel, or compare data_ptr() to see
whether two tensors share memory); a traced value reports row-major strides."""

from __future__ import annotations

import pytest
import torch

import torchtrek as tt

VIEWS = {
    "base": lambda x: x,
    "transpose": lambda x: x.transpose(0, 2),
    "slice": lambda x: x[:, 1:],
    "step": lambda x: x[..., ::2],
    "select": lambda x: x[1],
    "expand": lambda x: x[:, :1].expand(2, 3, 4),
    "permute_contiguous": lambda x: x.permute(2, 0, 1).contiguous(),
    "unsqueeze": lambda x: x.unsqueeze(1),
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_strides_and_offsets_as_torch(view):
    ours = VIEWS[view](tt.arange(24.0).reshape(2, 3, 4))
    theirs = VIEWS[view](torch.arange(24.0).reshape(2, 3, 4))
    assert ours.stride() == theirs.stride()
    assert [ours.stride(d) for d in range(-ours.ndim, ours.ndim)] == [
        theirs.stride(d) for d in range(-theirs.ndim, theirs.ndim)]
    assert ours.storage_offset() == theirs.storage_offset()


def test_errors_and_zero_dim_as_torch():
    assert tt.tensor(1.0).stride() == () == torch.tensor(1.0).stride()
    with pytest.raises(IndexError, match="no dimensions"):
        tt.tensor(1.0).stride(0)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        tt.ones(2, 3).stride(2)


def test_data_ptr_tells_shared_memory_apart():
    x = tt.arange(12.0).reshape(3, 4)
    assert x[1].data_ptr() - x.data_ptr() == 4 * x.element_size()
    assert x.clone().data_ptr() != x.data_ptr()
    assert x.view(12).data_ptr() == x.data_ptr()


def test_traced_values_report_row_major_strides():
    seen = []

    def f(x):
        seen.append(x.t().contiguous().stride())
        return x * x.stride(0)

    out = tt.compile(f)(tt.ones(3, 5))
    assert seen == [(3, 1)]
    assert float(out.sum()) == 75.0
