"""torch.nn.functional.cosine_similarity and pairwise_distance, as ATen computes them."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..ops.math import clamp
from ..ops.reductions import norm
from ..ops.shape import broadcast_tensors


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """sum(x1 / |x1| * x2 / |x2|) along `dim`, each norm clamped to at least eps. As in torch,
    the clamp is made without autograd: the gradient is the unclamped norm's."""
    x1, x2 = broadcast_tensors(x1, x2) if tuple(x1.shape) != tuple(x2.shape) else (x1, x2)

    def clamped_norm(x: Any) -> Any:
        n = norm(x, 2, dim, keepdim=True)
        frozen = n.detach()
        return n + (clamp(frozen, min=eps) - frozen)

    return F.sum((x1 / clamped_norm(x1)) * (x2 / clamped_norm(x2)), dim)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Any:
    """The p-norm of x1 - x2 + eps over the last dimension."""
    out_ndim = max(x1.ndim, x2.ndim)
    if out_ndim == 0:
        raise RuntimeError("pairwise_distance: expected at least one dimension, got 0-d inputs")
    return norm(x1 - x2 + eps, p, out_ndim - 1, keepdim=keepdim)
