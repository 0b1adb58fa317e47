"""torch.linalg's norms (vector_norm, matrix_norm, norm) against torch 2.13 through the op
harness; what is missing says so."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402

CASES = [
    ("vector_norm", lambda m, x: m.linalg.vector_norm(x)),
    ("vector_norm_ord1_dim", lambda m, x: m.linalg.vector_norm(x, 1, dim=1, keepdim=True)),
    ("vector_norm_inf", lambda m, x: m.linalg.vector_norm(x, float("inf"), dim=0)),
    ("vector_norm_ord3", lambda m, x: m.linalg.vector_norm(x, 3.0, dim=(0, 1))),
    ("matrix_norm_fro", lambda m, x: m.linalg.matrix_norm(x)),
    ("norm_default", lambda m, x: m.linalg.norm(x)),
    ("norm_vector_dim", lambda m, x: m.linalg.norm(x, 2, dim=1)),
    ("norm_fro", lambda m, x: m.linalg.norm(x, "fro")),
]


@pytest.mark.parametrize("fn", [pytest.param(f, id=n) for n, f in CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_against_torch(fn, dtype):
    _h.check_op(fn, None, [(3, 4)], dtype)


def test_missing_orders_are_named():
    with pytest.raises(NotImplementedError, match="matrix_norm\\(ord='nuc'\\)"):
        tt.linalg.matrix_norm(tt.ones(2, 2), "nuc")
    with pytest.raises(NotImplementedError, match="torch.linalg.svd"):
        tt.linalg.svd  # noqa: B018
