"""torch.nn.functional.scaled_dot_product_attention. Where torch's CPU picks its fused flash
kernel (4-D float inputs of one width, no dropout, a constant mask or causal only for square
attention),
this is the fused `sdpa` op (ir/ops/attention.py: no L x S matrix kept for the backward);
otherwise it is composed from matmul, masking and softmax (torch's math backend), so its
gradient comes from those ops' rules and is differentiable again. `torch.nn.attention.
sdpa_kernel` chooses between the two as in torch."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from ..ops.indexing import masked_fill
from ..ops.shape import tril
from .._dispatch import bind
from ..ir import dtypes
from .attention import fused_allowed


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Any:
    from ..creation import ones, zeros
    from .functional import dropout, softmax

    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value of at "
                           f"least 2 dimensions, got {query.ndim}, {key.ndim} and {value.ndim}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, dim=-3)
        value = value.repeat_interleave(rep, dim=-3)
    L, S = query.shape[-2], key.shape[-2]
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if _fused_fits(query, key, value, attn_mask, dropout_p, is_causal):
        operands = [query, key, value]
        if attn_mask is not None:  # added to the scores: a bool mask as 0 / -inf
            operands.append(attn_mask if attn_mask.dtype is query.dtype else masked_fill(
                zeros(tuple(attn_mask.shape), dtype=query.dtype), F.logical_not(attn_mask),
                float("-inf")))
        return bind("sdpa", operands, {"scale": float(factor), "causal": bool(is_causal)})
    scores = F.matmul(query, F.transpose(key, -2, -1)) * factor
    if is_causal:
        keep = tril(ones(L, S, dtype=dtypes.bool_))
        scores = masked_fill(scores, F.logical_not(keep), float("-inf"))
    elif attn_mask is not None:
        if attn_mask.dtype is dtypes.bool_:
            scores = masked_fill(scores, F.logical_not(attn_mask), float("-inf"))
        else:
            scores = scores + attn_mask
    if attn_mask is not None:
        # torch's _safe_softmax: a query that sees no key gets zero weights (and no NaN
        # gradient), not softmax's 0/0; its scores are swapped for zeros first, so that
        # the softmax and its gradient stay finite in that row
        dead = (scores == float("-inf")).all(dim=-1, keepdim=True)
        weights = masked_fill(softmax(masked_fill(scores, dead, 0.0), dim=-1), dead, 0.0)
    else:
        weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return F.matmul(weights, value)


def _fused_fits(query: Any, key: Any, value: Any, attn_mask: Any, dropout_p: float,
                is_causal: bool) -> bool:
    """Would torch's CPU run its fused kernel here (and may we)?"""
    from ..tracer import current_trace

    d = query.dtype
    ctx = current_trace()
    # a compiled function is rebuilt when it is called under another sdpa_kernel choice
    allowed = ctx.guard_value(fused_allowed) if ctx is not None else fused_allowed()
    return (allowed and _mask_fits(attn_mask, query, key) and dropout_p == 0.0
            and query.ndim == key.ndim == value.ndim == 4
            and d is key.dtype is value.dtype and d in (dtypes.float32, dtypes.float64)
            and tuple(query.shape[:2]) == tuple(key.shape[:2]) == tuple(value.shape[:2])
            and key.shape[-2] == value.shape[-2]
            and query.shape[-1] == key.shape[-1] == value.shape[-1]
            and (not is_causal or query.shape[-2] == key.shape[-2])
            and query.device.type == "cpu" and key.device.type == "cpu"
            and value.device.type == "cpu")


def _mask_fits(mask: Any, query: Any, key: Any) -> bool:
    """No mask, or a constant bool / same-dtype float mask that broadcasts to the scores."""
    if mask is None:
        return True
    if mask.requires_grad or mask.device.type != "cpu" or mask.ndim > 4 or not (
            mask.dtype is dtypes.bool_ or mask.dtype is query.dtype):
        return False
    want = tuple(query.shape[:-1]) + (key.shape[-2],)
    return all(n in (1, w) for n, w in zip(tuple(mask.shape)[::-1], want[::-1]))
