"""torch.nn.functional: activations, softmax, linear, dropout, layer_norm, embedding,
one_hot here; convolution and pooling in _conv.py; losses in _losses.py.

Most functions are compositions of registry ops, so their gradients come from the
primitives' rules. Deliberate differences from torch:
  * relu's `inplace=True` computes the same values out of place (the input is not
    modified); the math family's activations write in place where they can.
  * dropout's random stream is NumPy's, seeded by tt.manual_seed: reproducible, with
    torch's statistics, but not torch's bit-for-bit masks.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .. import functional as F
from .._dispatch import bind, on_device_of
from ..ir import dtypes
from ..ir.dtypes import DType
from ..ir.shapes import normalize_dim
from ..ops.activations import (celu, elu, gelu, hardtanh, leaky_relu, logsigmoid, mish, relu6,
                               selu, silu, softplus)
from ..tracer import current_trace, trace_error
from ._attention import scaled_dot_product_attention
from ._resample import crop, interpolate, pad_by_index, upsample
from ._conv import avg_pool2d, conv2d, max_pool2d
from ._fused import fused_when_large
from ._distance import cosine_similarity, pairwise_distance
from ._losses import (
    binary_cross_entropy,
    cosine_embedding_loss,
    huber_loss,
    kl_div,
    margin_ranking_loss,
    smooth_l1_loss,
    triplet_margin_loss,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)

__all__ = [
    "pad", "scaled_dot_product_attention", "interpolate", "upsample",
    "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "hardtanh",
    "logsigmoid", "relu6", "selu", "celu", "mish", "softmax", "log_softmax", "linear",
    "dropout", "layer_norm", "embedding", "one_hot", "conv2d", "max_pool2d", "avg_pool2d", "cross_entropy", "nll_loss", "mse_loss",
    "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "smooth_l1_loss",
    "huber_loss", "kl_div", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "cosine_similarity", "pairwise_distance",
]

# ----------------------------------------------------------------- activations
# (gelu, silu, softplus, elu, ... are the math family's pointwise ops, imported above)


def relu(input: Any, inplace: bool = False) -> Any:
    return F.relu(input)


def sigmoid(input: Any) -> Any:
    return F.sigmoid(input)


def tanh(input: Any) -> Any:
    return F.tanh(input)


# ----------------------------------------------------------------- softmax


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        f"include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(name: str, input: Any, dim: int | None, dtype: DType | None,
                   stacklevel: int) -> tuple[Any, int]:
    if dim is None:
        dim = _softmax_dim(name, input.ndim, stacklevel + 1)
    if dtype is not None:
        input = F.cast(input, dtype)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(
            f'"{name}_lastdim_kernel_impl" not implemented for '
            f"'{F._torch_type_name(input.dtype)}'")
    return input, normalize_dim(dim, input.ndim) if input.ndim else 0


def _shifted(x: Any, dim: int) -> Any:
    # x - max(x): exp cannot overflow; the max is detached (the result does not depend
    # on the shift, and torch's gradient does not flow through it either)
    return x - F.amax(x, dim, keepdim=True).detach()


@fused_when_large
def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3,
            dtype: DType | None = None) -> Any:
    x, d = _softmax_input("softmax", input, dim, dtype, _stacklevel)
    if x.numel() == 0:
        return x * 1
    e = F.exp(_shifted(x, d))
    return e / F.sum(e, d, keepdim=True)


@fused_when_large
def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3,
                dtype: DType | None = None) -> Any:
    x, d = _softmax_input("log_softmax", input, dim, dtype, _stacklevel)
    if x.numel() == 0:
        return x * 1
    shifted = _shifted(x, d)
    return shifted - F.log(F.sum(F.exp(shifted), d, keepdim=True))


# ----------------------------------------------------------------- linear, dropout


@fused_when_large
def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """input @ weight.T + bias, like torch.nn.functional.linear. Large eager inputs run as one
    compiled graph: the bias add is a kernel beside the product, and the weight's gradient
    comes out as g.T @ x, row-major (op by op it was the transpose of x.T @ g: a strided
    copy per step to give .grad torch's layout)."""
    out = F.matmul(input, F.t(weight) if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


def _fresh_key() -> int:
    """Tells apart the random draws of one traced graph (see ir/ops/nn.py: uniform)."""
    ctx = current_trace()
    return 0 if ctx is None else sum(e.op == "uniform" for e in ctx.builder.eqns)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero each element with probability p and scale the rest by 1 / (1 - p). The mask is
    drawn when the code runs (fresh on every call of a compiled function)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return input * 0.0
    d = input.dtype
    u = bind("uniform", [], {"shape": tuple(input.shape), "dtype": d, "key": _fresh_key()})
    u = on_device_of(u, input)  # eager on a GPU: drawn on the host, then copied
    # torch scales by 1 / (1 - p) computed in the tensor's dtype
    scale = float(np.asarray(1, d.name) / np.asarray(1 - p, d.name))
    return input * (F.cast(F.ge(u, float(p)), d) * scale)


# ----------------------------------------------------------------- normalization


@fused_when_large
def layer_norm(input: Any, normalized_shape: Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Any:
    if isinstance(normalized_shape, int):
        raise TypeError("layer_norm(): argument 'normalized_shape' (position 2) must be tuple "
                        "of ints, not int")
    shape = tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(t.shape)} and normalized_shape = {list(shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    centered = input - F.mean(input, dims, keepdim=True)
    var = F.mean(centered * centered, dims, keepdim=True)
    out = centered * (1.0 / F.sqrt(var + eps))
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# ----------------------------------------------------------------- embedding, one_hot


def _concrete_ints(t: Any) -> np.ndarray | None:
    """The values of a concrete tensor (None while tracing): for data-dependent checks."""
    return t._values_or_none()


def embedding(input: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Any:
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported yet")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if input.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.type()} instead (while checking arguments for "
            "embedding)")
    if padding_idx is not None:
        n = weight.shape[0]
        if padding_idx >= n or padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= n
    idx = _concrete_ints(input)
    if idx is not None and idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise IndexError("index out of range in self")
    return bind("embedding", [weight, input], {"padding_idx": padding_idx})


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    from ..creation import arange

    if tensor.dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    values = _concrete_ints(tensor)
    if num_classes == -1:
        if values is None:
            raise trace_error("one_hot without num_classes (the class count depends on values)")
        num_classes = int(values.max()) + 1 if values.size else 0
    if values is not None and values.size:
        if values.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if values.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return F.cast(F.eq(F.unsqueeze(tensor, -1), arange(num_classes)), dtypes.int64)


def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Any:
    """torch.nn.functional.pad: `pad` lists (before, after) pairs starting from the last
    dimension; constant (negative values crop), reflect, replicate or circular."""
    from .._dispatch import bind

    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(
            f"Padding length must be divisible by 2 and at most twice the number of dimensions "
            f"of the input, got {len(pad)} for a {input.ndim}-d input")
    if mode != "constant":
        if mode not in ("reflect", "replicate", "circular"):
            raise NotImplementedError(f"Unrecognised padding mode {mode}")
        if value:
            raise ValueError(f'Padding mode "{mode}"" doesn\'t take in value argument.')
        return pad_by_index(input, pad, mode)
    input, pad = crop(input, pad)
    if not any(pad):
        return input
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    out = bind("pad", [input], {"widths": tuple(widths)})
    if value:
        inside = bind("pad", [input.new_ones(input.shape) if hasattr(input, "new_ones")
                              else _ones_like(input)], {"widths": tuple(widths)})
        out = out + (1 - inside) * value
    return out


def _ones_like(x: Any) -> Any:
    from ..creation import ones_like

    return ones_like(x)


def __getattr__(name: str) -> Any:
    from .._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
