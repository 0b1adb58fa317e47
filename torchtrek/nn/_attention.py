"""torch.nn.functional.scaled_dot_product_attention, composed from matmul, masking and softmax
(the math backend torch falls back to), so its gradient comes from those ops' rules."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from ..ops.indexing import masked_fill
from ..ops.shape import tril
from ..ir import dtypes


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Any:
    from ..creation import ones
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
    scores = F.matmul(query, F.transpose(key, -2, -1)) * factor
    if is_causal:
        keep = tril(ones(L, S, dtype=dtypes.bool_))
        scores = masked_fill(scores, F.logical_not(keep), float("-inf"))
    elif attn_mask is not None:
        if attn_mask.dtype is dtypes.bool_:
            scores = masked_fill(scores, F.logical_not(attn_mask), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return F.matmul(weights, value)
