"""F.scaled_dot_product_attention's choice between the fused op and the math composition
(torchtrek/nn/_attention.py), as torch's CPU makes it, and torch.nn.attention.sdpa_kernel:
values and gradients against torch on both paths, eager and compiled (both backends), the
eager node's name, the fused backward's refusal of a second derivative, and a compiled
function rebuilt when called under another sdpa_kernel choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch.nn.attention import SDPBackend as TorchBackend
from torch.nn.attention import sdpa_kernel as torch_sdpa_kernel

import torchtrek as tt
import torchtrek.nn.functional as F
from torchtrek.nn.attention import SDPBackend, sdpa_kernel

CASES = {  # name: (q shape, k shape, v shape, kwargs, fused here and in torch)
    "causal": ((2, 3, 6, 4), (2, 3, 6, 4), (2, 3, 6, 4), dict(is_causal=True), True),
    "cross": ((2, 2, 5, 8), (2, 2, 9, 8), (2, 2, 9, 8), {}, True),
    "value_width": ((2, 2, 5, 8), (2, 2, 9, 8), (2, 2, 9, 3), {}, False),
    "dropout_eval": ((1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4), dict(dropout_p=0.0), True),
    "scale": ((1, 2, 7, 4), (1, 2, 7, 4), (1, 2, 7, 4), dict(scale=0.3, is_causal=True), True),
    "bool_mask": ((2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), dict(attn_mask="bool"), True),
    "float_mask": ((2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), dict(attn_mask="float"), True),
    "three_d": ((3, 5, 4), (3, 5, 4), (3, 5, 4), dict(is_causal=True), False),
    "causal_rect": ((1, 2, 4, 4), (1, 2, 7, 4), (1, 2, 7, 4), dict(is_causal=True), False),
}


def _arrays(case, dtype=np.float32):
    qs, ks, vs, kw, _ = CASES[case]
    rng = np.random.default_rng(len(case))
    arrays = [rng.standard_normal(s).astype(dtype) for s in (qs, ks, vs)]
    out_shape = qs[:-1] + vs[-1:]
    g = rng.standard_normal(out_shape).astype(dtype)
    mask = kw.get("attn_mask")
    if mask == "bool":
        m = np.tril(np.ones((qs[-2], ks[-2]), dtype=bool))
        m[0, :] = True
        kw = {**kw, "attn_mask": m}
    elif mask == "float":
        kw = {**kw, "attn_mask": rng.standard_normal((qs[-2], ks[-2])).astype(dtype)}
    return arrays, g, kw


def _run(m, arrays, g, kw, compiled=None):
    ts = [m.tensor(a, requires_grad=True) for a in arrays]
    kw = {k: (m.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    fn = m.nn.functional.scaled_dot_product_attention

    def step(a, b, c, gg):
        y = fn(a, b, c, **kw)
        (y * gg).sum().backward()
        return y

    if compiled:
        step = tt.compile(step, backend=compiled)
    out = step(*ts, m.tensor(g))
    return out, [out.detach().numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("mode", [None, "numpy", "c"], ids=["eager", "numpy", "c"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch_on_both_paths(case, mode):
    arrays, g, kw = _arrays(case)
    t_out, want = _run(torch, arrays, g, kw)
    out, got = _run(tt, arrays, g, kw, mode)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    fused = CASES[case][-1]
    if fused:  # (the premise: torch fuses it too)
        assert "FlashAttentionForCpu" in type(t_out.grad_fn).__name__
    if mode is None:
        assert ("FlashAttentionForCpu" in type(out.grad_fn).__name__) == fused


def test_eager_node_is_named_as_torchs():
    arrays, g, kw = _arrays("causal")
    out, _ = _run(tt, arrays, g, kw)
    assert type(out.grad_fn).__name__ == "ScaledDotProductFlashAttentionForCpuBackward0"


def test_float64():
    arrays, g, kw = _arrays("cross", np.float64)
    _, want = _run(torch, arrays, g, kw)
    for mode in (None, "c"):
        _, got = _run(tt, arrays, g, kw, mode)
        for a, b in zip(got, want):
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _second_derivative(m, q):
    o = m.nn.functional.scaled_dot_product_attention(q, q * 0.5, q, is_causal=True)
    (g,) = m.autograd.grad(o.sum(), q, create_graph=True)
    return (g * g).sum()


def test_fused_backward_refuses_a_second_derivative_and_math_gives_it():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 4)).astype(np.float32)
    with pytest.raises(RuntimeError, match="derivative for aten::_scaled_dot_product_flash"):
        _second_derivative(torch, torch.tensor(x, requires_grad=True)).backward()
    with pytest.raises(NotImplementedError, match="sdpa_kernel\\(SDPBackend.MATH\\)"):
        tt.compile(lambda q: _second_derivative(tt, q))(tt.tensor(x, requires_grad=True))

    tq = torch.tensor(x, requires_grad=True)
    with torch_sdpa_kernel(TorchBackend.MATH):
        want = _second_derivative(torch, tq)
    want.backward()
    f = tt.compile(lambda q: _second_derivative(tt, q))
    q = tt.tensor(x, requires_grad=True)
    with sdpa_kernel(SDPBackend.MATH):
        got = f(q)
    got.backward()
    np.testing.assert_allclose(float(got.detach()), float(want.detach()), rtol=1e-5)
    np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_compiled_function_follows_the_sdpa_kernel_choice():
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 4)).astype(np.float32)
    f = tt.compile(lambda q: TF_like(q))
    q = tt.tensor(x)
    fused_src = f.source(q)
    with sdpa_kernel([SDPBackend.MATH]):
        math_src = f.source(q)
        math_out = f(q).numpy()
    assert fused_src != math_src
    np.testing.assert_allclose(math_out, f(q).numpy(), rtol=1e-5, atol=1e-6)
    want = TF.scaled_dot_product_attention(*(torch.tensor(x),) * 3, is_causal=True).numpy()
    np.testing.assert_allclose(f(q).numpy(), want, rtol=1e-5, atol=1e-6)


def TF_like(q):
    return F.scaled_dot_product_attention(q, q, q, is_causal=True)


def test_sdpa_kernel_rejects_what_is_not_a_backend():
    with pytest.raises(TypeError, match="SDPBackend"):
        with sdpa_kernel(["math"]):
            pass


@pytest.mark.parametrize("mode", [None, "c"], ids=["eager", "c"])
@pytest.mark.parametrize("kind", ["float", "bool"])
def test_a_query_that_sees_no_key_gets_zeros_as_in_torch(kind, mode):
    # torch's _safe_softmax: zero weights and finite gradients for a fully masked row
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 3, 4)).astype(np.float32)
    if kind == "float":
        mask = np.zeros((3, 3), np.float32)
        mask[1, :] = -np.inf
        mask[2, 0] = -np.inf
    else:
        mask = np.ones((3, 3), bool)
        mask[1, :] = False

    def run(m, compiled):
        q, mk = m.tensor(x, requires_grad=True), m.tensor(mask)

        def f(q):
            o = m.nn.functional.scaled_dot_product_attention(q, q * 0.5, q, attn_mask=mk)
            (o * o).sum().backward()
            return o

        o = (tt.compile(f, backend=compiled) if compiled else f)(q)
        return o.detach().numpy(), q.grad.numpy()

    want, got = run(torch, None), run(tt, mode)
    assert not np.isnan(got[1]).any()
    assert (got[0][:, :, 1] == 0).all()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
