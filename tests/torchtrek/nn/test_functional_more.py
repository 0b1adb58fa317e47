"""The newer nn.functional surface against torch 2.13 through the shared op harness (eager,
compiled, compiled with dynamic sizes; values, dtypes and gradients): robust and ranking
losses, kl_div, distances, scaled_dot_product_attention; and the sorting family."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tt = pytest.importorskip("torchtrek")

import test_ops as _h  # noqa: E402  (the shared op harness)

I, V, check_op, check_fd = _h.I, _h.V, _h.check_op, _h.check_finite_differences
FLOATS = ("float32", "float64")
REDUCTIONS = ("mean", "sum", "none")
S = (4, 5)
SIGNS = V([1.0, -1.0, 1.0, -1.0], "float32")

CASES = []


def case(id, fn, *inputs, fd=False, dtypes=FLOATS, torch_fn=None):
    CASES.append(pytest.param(fn, inputs, dtypes, fd, torch_fn, id=id))


for r in REDUCTIONS:
    case(f"smooth_l1_{r}", lambda m, x, y, r=r: m.nn.functional.smooth_l1_loss(x, y, reduction=r),
         S, S, fd=True)
    case(f"smooth_l1_beta_{r}", lambda m, x, y, r=r: m.nn.functional.smooth_l1_loss(
        x, y, reduction=r, beta=0.3), S, S)
    case(f"huber_{r}", lambda m, x, y, r=r: m.nn.functional.huber_loss(x, y, reduction=r,
                                                                        delta=0.7), S, S, fd=True)
    case(f"kl_div_{r}", lambda m, x, y, r=r: m.nn.functional.kl_div(
        m.log_softmax(x, -1), m.softmax(y, -1), reduction=r), S, S, fd=True)
    case(f"kl_div_log_target_{r}", lambda m, x, y, r=r: m.nn.functional.kl_div(
        m.log_softmax(x, -1), m.log_softmax(y, -1), reduction=r, log_target=True), S, S)
    case(f"margin_ranking_{r}", lambda m, x, y, t, r=r: m.nn.functional.margin_ranking_loss(
        x, y, t, margin=0.2, reduction=r), (4,), (4,), SIGNS)
    case(f"cosine_embedding_{r}", lambda m, x, y, t, r=r: m.nn.functional.cosine_embedding_loss(
        x, y, t, margin=0.1, reduction=r), S, S, SIGNS)
    case(f"triplet_{r}", lambda m, a, p, n, r=r: m.nn.functional.triplet_margin_loss(
        a, p, n, reduction=r), S, S, S, fd=True)
case("kl_div_batchmean", lambda m, x, y: m.nn.functional.kl_div(
    m.log_softmax(x, -1), m.softmax(y, -1), reduction="batchmean"), S, S)
# (torch's gradient for a zero target is nan, d/dt xlogy(t, t) = log 0 + 1: targets are data)
case("kl_div_zero_target", lambda m, x, y: m.nn.functional.kl_div(
    x, y.detach(), reduction="sum"), S, V([[0.0, 0.5, 0.5, 0.0, 0.0]] * 4, "float32"), dtypes=(None,))
case("triplet_swap_p1", lambda m, a, p, n: m.nn.functional.triplet_margin_loss(
    a, p, n, margin=0.5, p=1, swap=True), S, S, S)
case("cosine_similarity", lambda m, x, y: m.nn.functional.cosine_similarity(x, y), S, S, fd=True)
case("cosine_similarity_dim_bcast", lambda m, x, y: m.nn.functional.cosine_similarity(
    x, y, dim=-1), (3, 1, 5), (4, 5))
case("pairwise_distance", lambda m, x, y: m.nn.functional.pairwise_distance(x, y), S, S, fd=True)
case("pairwise_distance_p3_keepdim", lambda m, x, y: m.nn.functional.pairwise_distance(
    x, y, p=3, keepdim=True), S, S)
case("sdpa", lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(q, k, v),
     (2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5), fd=False)
case("sdpa_causal", lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(
    q, k, v, is_causal=True), (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4))
case("sdpa_causal_rect_scale", lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(
    q, k, v, is_causal=True, scale=0.3), (1, 3, 4), (1, 6, 4), (1, 6, 2))
case("sdpa_bool_mask", lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(
    q, k, v, attn_mask=m.tensor([[True, False, True], [True, True, False]])),
    (2, 2, 4), (2, 3, 4), (2, 3, 4))
case("sdpa_float_mask", lambda m, q, k, v, b: m.nn.functional.scaled_dot_product_attention(
    q, k, v, attn_mask=b), (2, 2, 4), (2, 3, 4), (2, 3, 4), (2, 3))
# sorting: values are a gather, so they carry the gradient
DISTINCT = V(np.random.RandomState(3).permutation(20).reshape(4, 5).astype("float32") / 4)
case("sort", lambda m, x: m.sort(x, dim=1).values, DISTINCT, dtypes=(None,))
case("sort_desc_dim0", lambda m, x: m.sort(x, 0, descending=True)[0], DISTINCT, dtypes=(None,))
case("topk", lambda m, x: m.topk(x, 3).values, DISTINCT, dtypes=(None,))
case("topk_smallest_dim0", lambda m, x: x.topk(2, dim=0, largest=False)[0], DISTINCT, dtypes=(None,))
case("kthvalue", lambda m, x: m.kthvalue(x, 2, 1).values, DISTINCT, dtypes=(None,))
case("kthvalue_keepdim", lambda m, x: x.kthvalue(3, 0, keepdim=True)[0], DISTINCT, dtypes=(None,))
case("msort", lambda m, x: m.msort(x), DISTINCT, dtypes=(None,))


@pytest.mark.parametrize("fn,inputs,dtypes,fd,torch_fn", CASES)
def test_against_torch(fn, inputs, dtypes, fd, torch_fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning, in both libraries
        for dtype in dtypes:
            check_op(fn, torch_fn, inputs, dtype)
        if fd:
            check_fd(fn, inputs)


TIES = [[3.0, 1.0, 3.0, np.nan, 1.0, 2.0], [0.0, -0.0, 5.0, 5.0, -1.0, 5.0]]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_sort_indices_match_torch_stable_with_ties_and_nan(descending, dtype):
    a = np.array(TIES)
    if dtype != "float32":
        a = np.nan_to_num(a).astype(dtype)
    for dim in (0, 1):
        want = torch.sort(torch.tensor(a), dim=dim, descending=descending, stable=True)
        got = tt.sort(tt.tensor(a), dim=dim, descending=descending)
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(tt.argsort(tt.tensor(a), dim, descending).numpy(),
                                      want.indices.numpy())
    assert str(got.indices.dtype).endswith("int64")


def test_topk_errors_and_return_types():
    x = tt.arange(5.0)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        tt.topk(x, 6)
    r = tt.topk(x, 2)
    assert type(r).__name__ == "topk" and r.indices.tolist() == [4, 3]
    assert repr(r).startswith("torch.return_types.topk(\nvalues=tensor([4., 3.])")
    assert repr(tt.max(tt.ones(2, 2), 1)).startswith("torch.return_types.max(")
    with pytest.raises(RuntimeError, match="kthvalue"):
        tt.kthvalue(x, 0)


def test_unique_matches_torch():
    a = np.array([[3, 1, 2], [3, 1, 2], [0, 1, 2]])
    for kw in [{}, dict(return_inverse=True), dict(return_counts=True),
               dict(return_inverse=True, return_counts=True), dict(dim=0), dict(dim=1),
               dict(dim=0, return_inverse=True, return_counts=True)]:
        want = torch.unique(torch.tensor(a), **kw)
        got = tt.unique(tt.tensor(a), **kw)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    got = tt.unique_consecutive(tt.tensor([1, 1, 2, 2, 3, 1]), return_counts=True,
                                return_inverse=True)
    want = torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 3, 1]), return_counts=True,
                                    return_inverse=True)
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()


def test_unique_inside_a_trace_says_why():
    with pytest.raises(tt.TraceError, match="unique"):
        tt.compile(lambda x: tt.unique(x))(tt.tensor([1, 2]))


def test_loss_modules_match_functional():
    rng = np.random.RandomState(0)
    x, y = rng.randn(4, 5).astype(np.float32), rng.randn(4, 5).astype(np.float32)
    t = np.array([1.0, -1.0, 1.0, -1.0], np.float32)
    for name, args, kw in [("SmoothL1Loss", (x, y), dict(beta=0.5)),
                           ("HuberLoss", (x, y), dict(delta=0.5)),
                           ("KLDivLoss", (x, y), dict(reduction="batchmean", log_target=True)),
                           ("CosineEmbeddingLoss", (x, y, t), dict(margin=0.1)),
                           ("MarginRankingLoss", (x[:, 0], y[:, 0], t), dict(margin=0.1)),
                           ("TripletMarginLoss", (x, y, x[::-1].copy()), dict(swap=True)),
                           ("CosineSimilarity", (x, y), dict(dim=0)),
                           ("PairwiseDistance", (x, y), dict(p=1.0))]:
        want = getattr(torch.nn, name)(**kw)(*map(torch.tensor, args))
        got = getattr(tt.nn, name)(**kw)(*map(tt.tensor, args))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_loss_argument_errors_match_torch():
    x = torch.zeros(3)
    for m, xs in ((torch, x), (tt, tt.zeros(3))):
        with pytest.raises(RuntimeError, match="negative values for beta"):
            m.nn.functional.smooth_l1_loss(xs, xs, beta=-1.0)
        with pytest.raises(ValueError, match="margin must be greater than 0"):
            m.nn.functional.triplet_margin_loss(xs, xs, xs, margin=0.0)
