"""The C backend's embedding backward (codegen/c/embedding.c.j2) against the NumPy emitter's
np.add.at, bit for bit (repeated indices sum in row order), and against torch: float32 and
float64, int64 and int32 indices, padding_idx, one thread and several."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek.codegen.c import embedding as c_embedding


def grad_of_weight(backend, w, idx, padding_idx):
    def f(w, idx):
        out = F.embedding(idx, w, padding_idx=padding_idx)
        (out * out).sum().backward()
        return w.grad

    wt = tt.tensor(w, requires_grad=True)
    cf = tt.compile(f, backend=backend)
    return cf(wt, tt.tensor(idx)).numpy(), cf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("rows, width", [(40, 24), (1024, 128)])  # one thread, two
def test_matches_add_at_and_torch(dtype, idx_dtype, padding_idx, rows, width):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((11, width)).astype(dtype)
    idx = rng.integers(0, 11, (rows // 8, 8)).astype(idx_dtype)  # every row used many times
    got, cf = grad_of_weight("c", w, idx, padding_idx)
    want, _ = grad_of_weight("numpy", w, idx, padding_idx)
    src = cf.source(tt.tensor(w, requires_grad=True), tt.tensor(idx))
    assert "_embedding_backward(" in src and "np.add.at" not in src
    parallel = rows * width >= c_embedding.PARALLEL_MIN
    assert ("schedule(static) if(0)" in src[src.index("embedding_backward: "):]) != parallel
    np.testing.assert_array_equal(got, want)
    wt = torch.tensor(w, requires_grad=True)
    out = torch.nn.functional.embedding(torch.tensor(idx.astype(np.int64)), wt, padding_idx=padding_idx)
    (out * out).sum().backward()
    np.testing.assert_allclose(got, wt.grad.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-12)
    if padding_idx is not None:
        assert not got[padding_idx].any()
