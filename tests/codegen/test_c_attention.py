"""The C backend's fused attention kernels (codegen/c/attention.py, attention.c.j2): values
and gradients of F.scaled_dot_product_attention compiled on backend="c" against torch, at
sizes that exercise every tile edge (widths not a multiple of the vector, rows not a
multiple of the row group or the query block, S != L, one key), causal and not, float32
and float64, and with operands that are transposed views (read through their strides, not
copied); plus the source itself: one forward and one backward kernel, no L x S buffer,
deterministic text."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek._dispatch import bind

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}

SHAPES = [  # (B, H, L, S, E, Ev)
    (1, 1, 1, 1, 1, 1),
    (2, 3, 5, 5, 4, 4),
    (1, 2, 70, 70, 16, 16),
    (2, 1, 67, 131, 20, 9),
    (1, 2, 130, 130, 33, 64),
    (3, 2, 9, 200, 8, 40),
]


def _torch_ref(q, k, v, g, causal):
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = TF.scaled_dot_product_attention(*ts, is_causal=causal)
    out.backward(torch.tensor(g))
    return [out.detach().numpy()] + [t.grad.numpy() for t in ts]


def _compiled(q, k, v, g, causal, transpose=False):
    def f(a, b, c, gg):
        if transpose:  # operands arrive as (B, L, H, E) buffers viewed as (B, H, L, E)
            a, b, c = (x.transpose(1, 2) for x in (a, b, c))
        # the op itself (the front end takes it only where torch fuses: E == Ev, square
        # when causal); the kernels take every shape, causal as torch's tril(ones(L, S))
        y = bind("sdpa", [a, b, c], {"scale": float(1 / np.sqrt(q.shape[-1])), "causal": causal})
        (y * gg).sum().backward()
        return y

    fn = tt.compile(f, backend="c")
    arrays = [np.ascontiguousarray(a.transpose(0, 2, 1, 3)) if transpose else a for a in (q, k, v)]
    ts = [tt.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts, tt.tensor(g))
    grads = [t.grad.numpy() for t in ts]
    if transpose:
        grads = [x.transpose(0, 2, 1, 3) for x in grads]
    return fn, ts, [out.numpy()] + grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_torch(shape, causal, dtype):
    B, H, L, S, E, Ev = shape
    rng = np.random.default_rng(sum(shape))
    q, k = rng.standard_normal((B, H, L, E)), rng.standard_normal((B, H, S, E))
    v, g = rng.standard_normal((B, H, S, Ev)), rng.standard_normal((B, H, L, Ev))
    q, k, v, g = (a.astype(dtype) for a in (q, k, v, g))
    want = _torch_ref(q, k, v, g, causal)
    _, _, got = _compiled(q, k, v, g, causal)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("causal", [False, True])
def test_strided_operands_are_not_copied(causal):
    B, H, L, E = 2, 4, 96, 24
    rng = np.random.default_rng(7)
    q, k, v, g = (rng.standard_normal((B, H, L, E)).astype(np.float32) for _ in range(4))
    want = _torch_ref(q, k, v, g, causal)
    fn, ts, got = _compiled(q, k, v, g, causal, transpose=True)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[np.float32])
    src = fn.source(*ts, tt.tensor(g))
    # the wrapper passes the views' strides; a copy happens only if a row is not contiguous
    assert "st = np.array(x0.strides[:3] + x1.strides[:3] + x2.strides[:3]" in src


def test_source_has_one_kernel_each_way_and_no_score_matrix():
    B, H, L, E = 2, 2, 256, 32
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((B, H, L, E)).astype(np.float32) for _ in range(4)]

    def f(a, b, c, gg):
        y = F.scaled_dot_product_attention(a, b, c, is_causal=True)
        (y * gg).sum().backward()
        return y

    fn = tt.compile(f, backend="c")
    ts = [tt.tensor(a, requires_grad=True) for a in arrays[:3]]
    src = fn.source(*ts, tt.tensor(arrays[3]))
    kernels = re.findall(r"^void k\d+_(sdpa\w*)\(", src, flags=re.M)
    assert sorted(kernels) == ["sdpa", "sdpa_backward"]
    # nothing of L x L elements is allocated: no (.., 256, 256) buffer anywhere
    assert "256, 256)" not in src and "np.matmul" not in src
    assert f"{L} queries, {L} keys" in src and "causal" in src
    again = tt.compile(f, backend="c").source(*ts, tt.tensor(arrays[3]))
    assert again == src  # deterministic


def test_eager_large_attention_runs_the_c_kernel_and_matches():
    # eager ops this big run on the C backend (TORCHTREK_EAGER_C_MIN_NUMEL): forward and
    # the tape's backward both take the kernels
    rng = np.random.default_rng(3)
    q, k, v, g = (rng.standard_normal((2, 4, 128, 64)).astype(np.float32) for _ in range(4))
    want = _torch_ref(q, k, v, g, True)
    ts = [tt.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ts, is_causal=True)
    out.backward(tt.tensor(g))
    for a, b in zip([out.detach().numpy()] + [t.grad.numpy() for t in ts], want):
        np.testing.assert_allclose(a, b, **TOL[np.float32])


MASKS = {  # name: mask shape for (B, H, L, S) = (2, 3, 37, 70)
    "rows_cols": (37, 70), "per_batch": (2, 1, 37, 70), "per_head_key": (1, 3, 1, 70),
    "full": (2, 3, 37, 70)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MASKS))
def test_masked_attention_matches_torch(name, dtype):
    # an additive mask read through broadcast strides, with -inf entries and a query that
    # sees no key (zeros, finite gradients: torch's _safe_softmax)
    rng = np.random.default_rng(len(name))
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 37, 24), (2, 3, 70, 24),
                                                                  (2, 3, 70, 24)))
    g = rng.standard_normal((2, 3, 37, 24)).astype(dtype)
    mask = rng.standard_normal(MASKS[name]).astype(dtype)
    mask[mask > 1.2] = -np.inf
    if MASKS[name][-2] == 37:
        mask[..., 5, :] = -np.inf  # query 5 sees nothing
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = TF.scaled_dot_product_attention(*ts, attn_mask=torch.tensor(mask))
    out.backward(torch.tensor(g))
    want = [out.detach().numpy()] + [t.grad.numpy() for t in ts]

    def f(a, b, c, m, gg):
        y = F.scaled_dot_product_attention(a, b, c, attn_mask=m)
        (y * gg).sum().backward()
        return y

    fn = tt.compile(f, backend="c")
    us = [tt.tensor(a, requires_grad=True) for a in (q, k, v)]
    got = [fn(*us, tt.tensor(mask), tt.tensor(g)).numpy()] + [u.grad.numpy() for u in us]
    assert "k0_sdpa(" in fn.source(*us, tt.tensor(mask), tt.tensor(g)).replace("_k0_sdpa(", "k0_sdpa(")
    for a, b in zip(got, want):
        assert not np.isnan(a).any()
        np.testing.assert_allclose(a, b, **TOL[dtype])
