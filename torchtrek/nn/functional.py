"""torch.nn.functional's common losses and activations, composed from primitives
(so their gradients come from the primitives' rules; no rule of their own)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..ir import dtypes

relu = F.relu
sigmoid = F.sigmoid
tanh = F.tanh


def softmax(x: Any, dim: int) -> Any:
    e = F.exp(x - F.amax(x, dim, keepdim=True).detach())
    return e / F.sum(e, dim, keepdim=True)


def log_softmax(x: Any, dim: int) -> Any:
    # Stable: shift by the (detached) max; the result does not depend on the shift.
    shifted = x - F.amax(x, dim, keepdim=True).detach()
    return shifted - F.log(F.sum(F.exp(shifted), dim, keepdim=True))


def one_hot(target: Any, num_classes: int) -> Any:
    from ..creation import arange

    if target.dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    return F.cast(F.eq(F.unsqueeze(target, -1), arange(num_classes)), dtypes.int64)


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean") -> Any:
    picked = F.sum(log_probs * F.cast(one_hot(target, log_probs.shape[1]), log_probs.dtype), 1)
    return _reduce(-picked, reduction)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Any:
    """Softmax cross-entropy with class-index targets of shape (N,) and logits (N, C)."""
    if logits.ndim != 2 or target.ndim != 1:
        raise RuntimeError(
            f"cross_entropy expects logits (N, C) and class indices (N,); got "
            f"{list(logits.shape)} and {list(target.shape)}"
        )
    return nll_loss(log_softmax(logits, 1), target, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    return _reduce((input - target) ** 2, reduction)
