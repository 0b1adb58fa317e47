"""The composite family (torchtrek/ops/composite.py) against torch 2.13 through the op harness:
values and gradients, eager and compiled; the eager-only value queries and counting ops."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402

V = _h.V
S = (3, 4)
CASES = [
    ("addcmul", lambda m, a, b, c: m.addcmul(a, b, c, value=0.5), [S, S, S]),
    ("addcdiv", lambda m, a, b, c: m.addcdiv(a, b, c + 3, value=2), [S, S, _h.I(S, low=0.5)]),
    ("addcmul_method", lambda m, a, b, c: a.addcmul(b, c), [S, S, S]),
    ("logaddexp", lambda m, a, b: m.logaddexp(a * 30, b), [S, S]),
    ("logaddexp2", lambda m, a, b: m.logaddexp2(a, b), [S, S]),
    ("deg2rad", lambda m, a: m.deg2rad(a), [S]),
    ("rad2deg", lambda m, a: a.rad2deg(), [S]),
    ("diff", lambda m, a: m.diff(a), [S]),
    ("diff_n2_dim0_prepend", lambda m, a, p: m.diff(a, n=2, dim=0, prepend=p), [(3, 4), (2, 4)]),
    ("repeat_interleave", lambda m, a: a.repeat_interleave(2, dim=1), [S]),
    ("repeat_interleave_flat", lambda m, a: m.repeat_interleave(a, 3), [S]),
    ("repeat_interleave_tensor", lambda m, a: a.repeat_interleave(m.tensor([1, 0, 2]), dim=0), [S]),
    ("rot90", lambda m, a: m.rot90(a), [S]),
    ("rot90_k3", lambda m, a: m.rot90(a, 3, [1, 0]), [S]),
    ("rot90_k2_3d", lambda m, a: m.rot90(a, 2, [0, 2]), [(2, 3, 4)]),
    ("cdist", lambda m, a, b: m.cdist(a, b), [(2, 3, 4), (2, 5, 4)]),
    ("cdist_p1", lambda m, a, b: m.cdist(a, b, p=1), [(3, 4), (5, 4)]),
    ("dist", lambda m, a, b: m.dist(a, b, 3), [S, S]),
    ("median_dim", lambda m, a: m.median(a, 1).values, [V(np.arange(12.0).reshape(3, 4)[:, ::-1].copy())]),
    ("median", lambda m, a: a.median(), [V(np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.0]))]),
    ("nansum", lambda m, a: m.nansum(a * m.tensor([1.0, float("nan"), 1.0, 1.0])), [S]),
    ("nanmean_dim", lambda m, a: m.nanmean(a * m.tensor([1.0, float("nan"), 1.0, 1.0]), 1), [S]),
    ("fmax", lambda m, a, b: m.fmax(a, b * m.tensor([1.0, float("nan"), 1.0, 1.0])), [S, S]),
    ("fmin", lambda m, a, b: m.fmin(a, b), [S, S]),
    ("cross", lambda m, a, b: m.cross(a, b, dim=1), [(4, 3), (4, 3)]),
    ("kron", lambda m, a, b: m.kron(a, b), [(2, 3), (3, 2)]),
    ("meshgrid_ij", lambda m, a, b: m.meshgrid(a, b, indexing="ij")[1] * 2, [(3,), (4,)]),
    ("meshgrid_xy", lambda m, a, b: m.meshgrid(a, b, indexing="xy")[0] + 1, [(3,), (4,)]),
    ("cartesian_prod", lambda m, a, b: m.cartesian_prod(a, b), [(3,), (2,)]),
    ("isclose", lambda m, a, b: m.isclose(a, a + b * 1e-6), [S, S]),
]


@pytest.mark.parametrize("fn,inputs", [pytest.param(f, i, id=n) for n, f, i in CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_against_torch(fn, inputs, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _h.check_op(fn, None, inputs, dtype)


def test_value_queries_and_counting():
    for m in (torch, tt):
        a = m.tensor([1.0, 2.0, float("nan")])
        assert m.equal(m.ones(2), m.ones(2)) and not m.equal(m.ones(2), m.ones(3))
        assert m.allclose(a, a + 1e-9, equal_nan=True) and not m.allclose(a, a)
        assert m.is_floating_point(a) and not m.is_complex(a)
    for kw in ({}, {"minlength": 7}, {"weights": [0.5, 1.0, 2.0, 0.25]}):
        args = {k: (v if k != "weights" else None) for k, v in kw.items()}
        want = torch.bincount(torch.tensor([1, 3, 3, 0]), **{k: torch.tensor(v) if k == "weights"
                                                             else v for k, v in kw.items()})
        got = tt.bincount(tt.tensor([1, 3, 3, 0]), **{k: tt.tensor(v) if k == "weights" else v
                                                     for k, v in kw.items()})
        assert got.tolist() == want.tolist() and str(got.dtype).split('.')[-1] == str(want.dtype).split('.')[-1], args
    seq, vals = [1.0, 3.0, 5.0, 7.0], [[0.0, 3.0], [6.0, 9.0]]
    for right in (False, True):
        assert tt.searchsorted(tt.tensor(seq), tt.tensor(vals), right=right).tolist() == \
            torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right).tolist()
        assert tt.bucketize(tt.tensor(vals), tt.tensor(seq), right=right).tolist() == \
            torch.bucketize(torch.tensor(vals), torch.tensor(seq), right=right).tolist()
    assert tt.repeat_interleave(tt.tensor([2, 0, 1])).tolist() == \
        torch.repeat_interleave(torch.tensor([2, 0, 1])).tolist()
    with pytest.raises(tt.TraceError, match="equal"):
        tt.compile(lambda x: tt.equal(x, x))(tt.ones(1))
