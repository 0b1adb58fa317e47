"""Fused scaled-dot-product attention: `sdpa` and its backward, `sdpa_backward`.

    sdpa(q (*B, L, E), k (*B, S, E), v (*B, S, Ev)[, mask]; scale, causal)
        -> out (*B, L, Ev), lse (*B, L)
    sdpa_backward(q, k, v, out, lse, d_out[, mask]; scale, causal) -> dq, dk, dv

`mask`, when given, is added to the scaled scores (a float mask broadcastable to
(*B, L, S); the front end turns a bool mask into 0 / -inf). A query that sees no key gets
zeros, as torch's: its log-sum-exp is +inf, so that the backward rebuilds zero weights.

`lse` is each query row's log-sum-exp of its scaled scores: all the backward needs to
rebuild the attention weights block by block, so no L x S matrix outlives either op
(FlashAttention's recipe; torch's CPU flash kernel keeps the same `logsumexp`). The C
backend prints both as blocked kernels with an online softmax (codegen/c/attention.c.j2);
the NumPy emitters below are the readable reference and the eager path for small sizes.
Causal is torch's `is_causal`: query i sees keys 0..i (the front end only takes this op
for L == S when causal, as torch's fused kernels do).

The backward is not differentiable again, as torch's fused CPU kernel is not; a second
derivative through it raises instead of silently dropping a term.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..builder import Builder
from ..graph import Atom, Eqn, TensorType
from ..opdef import OpDef, register
from ..shapes import ShapeError


def _check(q: TensorType, k: TensorType, v: TensorType) -> None:
    if not (q.ndim == k.ndim == v.ndim) or q.ndim < 2:
        raise ShapeError(f"scaled_dot_product_attention: expected query, key and value of one "
                         f"rank >= 2, got {list(q.shape)}, {list(k.shape)} and {list(v.shape)}")
    if not (q.dtype is k.dtype is v.dtype) or not q.dtype.is_floating_point:
        raise ShapeError(f"scaled_dot_product_attention: expected query, key and value of one "
                         f"floating dtype, got {q.dtype.name}, {k.dtype.name} and {v.dtype.name}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]) or q.shape[-1] != k.shape[-1] \
            or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: query {list(q.shape)}, key "
                         f"{list(k.shape)} and value {list(v.shape)} do not fit (*B, L, E), "
                         f"(*B, S, E), (*B, S, Ev)")


def _check_mask(q: TensorType, k: TensorType, mask: Sequence[TensorType]) -> None:
    if not mask:
        return
    (m,) = mask
    want = q.shape[:-1] + k.shape[-2:-1]
    if m.dtype is not q.dtype or m.ndim > len(want) or any(
            n not in (1, w) for n, w in zip(m.shape[::-1], want[::-1])):
        raise ShapeError(f"scaled_dot_product_attention: the mask {list(m.shape)} "
                         f"({m.dtype.name}) does not broadcast to {list(want)} ({q.dtype.name})")


def _infer_sdpa(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    q, k, v, *mask = types
    _check(q, k, v)
    _check_mask(q, k, mask)
    return (TensorType(q.shape[:-1] + v.shape[-1:], q.dtype), TensorType(q.shape[:-1], q.dtype))


def _scores(q: str, k: str, a: dict[str, Any], L: int, S: int, mask: Sequence[str]) -> str:
    s = f"(np.matmul({q}, np.swapaxes({k}, -1, -2)) * {a['scale']!r})"
    if a["causal"]:
        s = f"np.where(np.tri({L}, {S}, dtype=bool), {s}, -np.inf)"
    if mask:
        s = f"({s} + {mask[0]})"
    return s


def _emit_sdpa(args: list[str], a: dict[str, Any], ins: Sequence[TensorType], out: TensorType) -> str:
    q, k, v, *mask = args
    s = _scores(q, k, a, ins[0].shape[-2], ins[1].shape[-2], mask)
    # the softmax from the row max (_m, 0 for a row that sees nothing), the exponentials
    # (_e) and their sum (_l, 1 for such a row: its weights are 0); the log-sum-exp is
    # _m + log(_l), +inf for such a row
    return ("(lambda _s: (lambda _m: (lambda _e: (lambda _l: "
            f"(np.matmul(_e / np.where(_l == 0, 1, _l), {v}), "
            "np.where(_l == 0, np.inf, _m + np.log(_l))[..., 0]))"
            "(_e.sum(-1, keepdims=True)))(np.exp(_s - _m)))"
            "((lambda _m0: np.where(_m0 == -np.inf, 0.0, _m0))(_s.max(-1, keepdims=True))))"
            f"({s})")


def _vjp_sdpa(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    q, k, v, *mask = eqn.inputs
    out, lse = eqn.outputs
    dq, dk, dv = b.emit_multi("sdpa_backward", [q, k, v, out, lse, ct, *mask], hint="grad",
                              scale=eqn.params["scale"], causal=eqn.params["causal"])
    return [dq, dk, dv] + [None] * len(mask)  # (the mask: a constant, as the front end takes it)


register(OpDef("sdpa", "attention", _infer_sdpa, vjp=_vjp_sdpa,
               torch_name="ScaledDotProductFlashAttentionForCpu", emit={"numpy": _emit_sdpa}))


def _infer_sdpa_bwd(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    q, k, v, out, lse, d_out, *mask = types
    _check(q, k, v)
    _check_mask(q, k, mask)
    if out.shape != d_out.shape or out.shape != q.shape[:-1] + v.shape[-1:] \
            or lse.shape != q.shape[:-1]:
        raise ShapeError(f"sdpa_backward: output {list(out.shape)}, its gradient "
                         f"{list(d_out.shape)} and log-sum-exp {list(lse.shape)} do not fit "
                         f"query {list(q.shape)} and value {list(v.shape)}")
    return q, k, v


def _emit_sdpa_bwd(args: list[str], a: dict[str, Any], ins: Sequence[TensorType],
                   out: TensorType) -> str:
    q, k, v, o, lse, do, *mask = args
    s = _scores(q, k, a, ins[0].shape[-2], ins[1].shape[-2], mask)
    scale = a["scale"]
    # _p: the attention weights rebuilt from lse; _ds: the scores' gradient,
    # p * (dO v^T - rowsum(dO * O))
    return ("(lambda _p: (lambda _ds: "
            f"(np.matmul(_ds, {k}) * {scale!r}, np.matmul(np.swapaxes(_ds, -1, -2), {q}) * {scale!r}, "
            f"np.matmul(np.swapaxes(_p, -1, -2), {do})))"
            f"(_p * (np.matmul({do}, np.swapaxes({v}, -1, -2)) - np.sum({do} * {o}, -1, keepdims=True))))"
            f"(np.exp({s} - {lse}[..., None]))")


def _vjp_sdpa_bwd(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    where = f" (at {eqn.loc})" if eqn.loc else ""
    raise NotImplementedError(
        f"derivative for the fused scaled_dot_product_attention backward is not implemented"
        f"{where}, as torch's for aten::_scaled_dot_product_flash_attention_for_cpu_backward "
        f"is not; for a second derivative, run the attention under "
        f"torch.nn.attention.sdpa_kernel(SDPBackend.MATH) (the composition)")


register(OpDef("sdpa_backward", "attention", _infer_sdpa_bwd, vjp=_vjp_sdpa_bwd,
               torch_name="ScaledDotProductFlashAttentionForCpuBackward",
               emit={"numpy": _emit_sdpa_bwd}))
