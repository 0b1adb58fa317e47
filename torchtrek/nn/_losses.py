"""Losses of torch.nn.functional, composed from registry ops (binary_cross_entropy has a
pointwise op of its own for torch's clamped logs and gradient; see ir/ops/nn.py).

Class-index targets pick their log-probability with a `where` over a class mask (not a
multiply by one-hot: -inf * 0 would be nan). Data-dependent checks (a target out of
range, probabilities outside [0, 1]) run eagerly only: traced values are symbolic.
"""

from __future__ import annotations

import warnings
from typing import Any

from .. import functional as F
from .._dispatch import bind
from ..ir import dtypes
from ._fused import fused_when_large

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    if size_average is not None or reduce is not None:  # torch's legacy arguments
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return F.mean(loss)
    return F.sum(loss) if reduction == "sum" else loss


def _type_name(t: Any) -> str:
    return F._torch_type_name(t.dtype)


# ----------------------------------------------------------------- nll / cross-entropy


def _class_mask(target: Any, n_classes: int, cdim: int, ndim: int) -> Any:
    """Bool (N, C, d1, ...) mask of each target's class (none for ignored targets)."""
    from ..creation import arange

    classes = F.reshape(arange(n_classes), (n_classes,) + (1,) * (ndim - cdim - 1))
    return F.eq(F.unsqueeze(target, cdim), classes)


def _broadcast_weight(weight: Any, cdim: int, ndim: int) -> Any:
    return F.reshape(weight, (weight.shape[0],) + (1,) * (ndim - cdim - 1))


def _check_targets(input: Any, target: Any, weight: Any, ignore_index: int) -> tuple[int, int]:
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim <= 2 and target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.dtype not in (dtypes.int64, dtypes.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_type_name(target)}")
    cdim = 1 if input.ndim >= 2 else 0
    if input.ndim >= 2 and target.ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    want = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
    if tuple(target.shape) != want:
        raise RuntimeError(f"Expected target size {list(want)}, got {list(target.shape)}")
    n_classes = input.shape[cdim]
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {list(weight.shape)}")
    values = target._values_or_none()
    if values is not None and values.size:
        bad = values[(values != ignore_index) & ((values < 0) | (values >= n_classes))]
        if bad.size:
            raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")
    return cdim, n_classes


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Any:
    reduction = _reduction(size_average, reduce, reduction)
    cdim, n = _check_targets(input, target, weight, ignore_index)
    target = F.cast(target, dtypes.int64)  # uint8 targets still compare with ignore_index
    hit = _class_mask(target, n, cdim, input.ndim)
    valid = F.ne(target, ignore_index)
    picked = F.sum(F.where(hit, input, 0), cdim)
    if weight is None:
        w = F.cast(valid, input.dtype)
    else:
        w = F.sum(F.where(hit, _broadcast_weight(weight, cdim, input.ndim), 0), cdim)
        w = F.where(valid, w, 0)
    loss = F.where(valid, -(picked * w) if weight is not None else -picked, 0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return F.sum(loss)
    return F.sum(loss) / F.sum(w)  # the weights of the counted targets (nan if none)


def _probability_targets(logp: Any, target: Any, weight: Any, reduction: str,
                         label_smoothing: float, cdim: int) -> Any:
    n = logp.shape[cdim]
    if not target.dtype.is_floating_point:
        raise RuntimeError("Expected floating point type for target with class "
                           f"probabilities, got {_type_name(target)}")
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n
    terms = logp * target
    if weight is not None:
        terms = terms * _broadcast_weight(weight, cdim, logp.ndim)
    if reduction == "none":
        return -F.sum(terms, cdim)
    if reduction == "sum":
        return -F.sum(terms)
    if logp.numel() == 0:
        return F.sum(terms) * float("nan")
    return -F.sum(terms) / float(logp.numel() // n)


@fused_when_large
def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Any:
    """log_softmax over the class dim (1, or 0 for one unbatched sample) and nll_loss, with
    class-index or class-probability targets, ignore_index, weight and label smoothing."""
    from .functional import log_softmax

    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = 1 if input.ndim >= 2 else 0
    logp = log_softmax(input, cdim)
    if tuple(input.shape) == tuple(target.shape):
        return _probability_targets(logp, target, weight, reduction, label_smoothing, cdim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    # torch: (1 - eps) * nll + eps / C * (the loss against the uniform distribution)
    n = input.shape[cdim]
    valid = F.ne(target, ignore_index)
    terms = logp if weight is None else logp * _broadcast_weight(weight, cdim, logp.ndim)
    smooth = F.where(valid, -F.sum(terms, cdim), 0)
    if reduction == "none":
        total = smooth
    elif reduction == "sum":
        total = F.sum(smooth)
    elif weight is None:
        total = F.sum(smooth) / F.sum(F.cast(valid, smooth.dtype))
    else:
        hit = _class_mask(target, n, cdim, input.ndim)
        w = F.sum(F.where(hit, _broadcast_weight(weight, cdim, input.ndim), 0), cdim)
        total = F.sum(smooth) / F.sum(F.where(valid, w, 0))
    return nll * (1 - label_smoothing) + total * (label_smoothing / n)


# ----------------------------------------------------------------- regression losses


def _warn_size(input: Any, target: Any) -> None:
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", stacklevel=3)


def mse_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Any = None) -> Any:
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    loss = (input - target) ** 2
    return _reduce(loss if weight is None else loss * weight, reduction)


def l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Any = None) -> Any:
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    loss = F.abs(input - target)
    return _reduce(loss if weight is None else loss * weight, reduction)


# ----------------------------------------------------------------- binary losses


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Any:
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size.")
    x = input._values_or_none()
    if x is not None and x.size and not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    dtype = F.result_type(input, target)
    loss = bind("binary_cross_entropy", [F.cast(input, dtype), F.cast(target, dtype)])
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Any:
    """Stable for any logit: (1 - y) x - w_pos log(sigmoid(x)), as torch computes it."""
    from .functional import logsigmoid

    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        log_sig = log_sig * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - log_sig
    return _reduce(loss if weight is None else loss * weight, reduction)
