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
from ..ops.math import clamp, minimum
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


# ----------------------------------------------------------------- regression (robust)


def smooth_l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Any:
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target)."""
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return l1_loss(input, target, reduction=reduction)
    d = input - target
    z = F.abs(d)
    return _reduce(F.where(z < beta, 0.5 * d * d / beta, z - 0.5 * beta), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Any = None) -> Any:
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta)."""
    reduction = _reduction(None, None, reduction)
    _warn_size(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = input - target
    z = F.abs(d)
    loss = F.where(z < delta, 0.5 * d * d, delta * (z - 0.5 * delta))
    return _reduce(loss if weight is None else loss * weight, reduction)


# ----------------------------------------------------------------- distributions


def kl_div(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Any:
    """Pointwise KL divergence target * (log(target) - input) (input holds log-probabilities;
    with log_target, so does target). 'batchmean' divides the sum by the batch size."""
    if reduction == "batchmean":
        if size_average is not None or reduce is not None:
            reduction = _reduction(size_average, reduce, "mean")
    else:
        reduction = _reduction(size_average, reduce, reduction)
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and "
                          "aligns with the KL div math definition.'mean' will be changed to "
                          "behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
    if log_target:
        loss = F.exp(target) * (target - input)
    else:  # xlogy(target, target) - target * input: 0 where target is 0
        positive = target > 0
        safe = F.where(positive, target, 1.0)
        loss = F.where(positive, target * F.log(safe), 0.0) - target * input
    if reduction == "batchmean":
        return F.sum(loss) / input.shape[0] if input.ndim else F.sum(loss)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------- embeddings and ranking


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Any:
    """1 - cos(x1, x2) where target is 1, max(0, cos - margin) where it is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or target.ndim != input1.ndim - 1 or input1.ndim not in (1, 2):
        raise RuntimeError(
            f"cosine_embedding_loss: expected 1-D or 2-D inputs of one rank and a target of one "
            f"dimension less, got input1 {list(input1.shape)}, input2 {list(input2.shape)}, "
            f"target {list(target.shape)}")
    dim = input1.ndim - 1
    eps = 1e-12  # ATen's EPSILON
    prod = F.sum(input1 * input2, dim)
    mag1 = F.sum(input1 * input1, dim) + eps
    mag2 = F.sum(input2 * input2, dim) + eps
    cos = prod / F.sqrt(mag1 * mag2)
    pos = F.where(target == 1, 1 - cos, 0.0)
    neg = F.where(target == -1, clamp(cos - margin, min=0), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Any:
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0), reduction)


def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Any:
    """max(0, margin + d(a, p) - d(a, n)), d the pairwise p-distance (swap: the smaller of
    d(a, n) and d(p, n))."""
    from ._distance import pairwise_distance

    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pos, neg = anchor.ndim, positive.ndim, negative.ndim
    if not (a == pos == neg):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {a}D, positive {pos}D, and negative {neg}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(margin + d_pos - d_neg, min=0), reduction)
