"""conv2d, max_pool2d and avg_pool2d (torch.nn.functional's), on the ops of ir/ops/nn.py.

Pooling is composed: `unfold2d` gives the (N, C, OH, OW, kh, kw) windows; max pooling
picks each window's first maximum (torch's choice, so the gradient goes to that one
element even with ties), average pooling sums and divides by torch's divisor.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import functional as F
from .._dispatch import bind
from ..ir import dtypes
from ..ir.ops.nn import out_size

IntPair = int | Sequence[int]


def _pair(v: IntPair, name: str = "") -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(x) for x in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise RuntimeError(f"{name} must be an int or a pair of ints, got {list(v)}")
    return v  # type: ignore[return-value]


def _c_type(d: Any) -> str:
    return F._c_type(d)


def _batched(input: Any, what: str) -> tuple[Any, bool]:
    if input.ndim == 3:
        return F.unsqueeze(input, 0), True
    if input.ndim != 4:
        raise RuntimeError(what)
    return input, False


# ----------------------------------------------------------------- conv2d


def _conv_padding(padding: Any, kernel: tuple[int, int], stride: tuple[int, int],
                  dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if stride != (1, 1):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]  # the odd one out goes at the end
        return tuple(out)  # type: ignore[return-value]
    ph, pw = _pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise RuntimeError("negative padding is not supported")
    return (ph, ph, pw, pw)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1) -> Any:
    """2-D cross-correlation, like torch.nn.functional.conv2d (3-D input is one image)."""
    x, unbatched = _batched(
        input, "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of "
               f"size: {list(input.shape)}")
    st, dil = _pair(stride, "stride"), _pair(dilation, "dilation")
    if weight.ndim != 4:
        raise RuntimeError(
            f"expected stride to be a single integer value or a list of {weight.ndim - 2} "
            f"values to match the convolution dimensions, but got stride={list(st)}")
    if min(st) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(dil) <= 0:
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    pad = _conv_padding(padding, tuple(weight.shape[2:]), st, dil)  # type: ignore[arg-type]
    if bias is not None:
        if bias.dtype is not x.dtype:
            raise RuntimeError(f"Input type ({_c_type(x.dtype)}) and bias type "
                               f"({_c_type(bias.dtype)}) should be the same")
        if tuple(bias.shape) != (weight.shape[0],):
            raise RuntimeError(
                f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional "
                f"with {weight.shape[0]} elements, but got bias of size {list(bias.shape)} instead")
    out = bind("conv2d", [x, weight],
               {"stride": st, "padding": pad, "dilation": dil, "groups": int(groups)})
    if bias is not None:
        out = out + F.reshape(bias, (1, -1, 1, 1))
    return F.squeeze(out, 0) if unbatched else out


# ----------------------------------------------------------------- pooling


def _pool_geometry(x: Any, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
                   dilation: IntPair, ceil_mode: bool) -> dict[str, Any]:
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _pair(stride, "stride")
    p, d = _pair(padding, "padding"), _pair(dilation, "dilation")
    if min(s) == 0:
        raise RuntimeError("stride should not be zero")
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    for i in range(2):
        if p[i] > (d[i] * (k[i] - 1) + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p[i]}, "
                f"kernel_size={k[i]} and dilation={d[i]}")
    extra = [0, 0]
    if ceil_mode:
        for i, size in enumerate(x.shape[2:]):
            n = math.ceil((size + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i]) + 1
            if (n - 1) * s[i] >= size + p[i]:  # the last window must start inside
                n -= 1
            extra[i] = max(0, (n - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (size + 2 * p[i]))
    return {"kernel": k, "stride": s, "dilation": d,
            "padding": (p[0], p[0] + extra[0], p[1], p[1] + extra[1])}


def _check_pool_input(input: Any) -> tuple[Any, bool]:
    if input.ndim not in (3, 4) or input.numel() == 0 and input.ndim == 3:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    return _batched(input, "non-empty 3D or 4D (batch mode) tensor expected for input")


def max_pool2d(input: Any, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    from ..creation import arange, tensor

    x, unbatched = _check_pool_input(input)
    geo = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    floating = x.dtype.is_floating_point
    win = bind("unfold2d", [x], {**geo, "pad": "lowest"})
    n, c, oh, ow, kh, kw = win.shape
    flat = F.reshape(win, (n, c, oh, ow, kh * kw))
    first = F.eq(F.argmax(flat, -1, keepdim=True), arange(kh * kw, device=x.device))  # torch's pick on ties
    out = F.sum(F.where(first, flat, 0), -1) if floating else F.amax(flat, -1)
    if return_indices:
        (sh, sw), (pt, _, pl, _), (dh, dw) = geo["stride"], geo["padding"], geo["dilation"]
        rows = (np.arange(oh) * sh - pt)[:, None, None, None] + (np.arange(kh) * dh)[:, None]
        cols = (np.arange(ow) * sw - pl)[None, :, None, None] + np.arange(kw) * dw
        where = tensor((rows * x.shape[3] + cols).reshape(oh, ow, kh * kw), device=x.device)
        idx = F.sum(F.where(first, where, 0), -1)
        return (F.squeeze(out, 0), F.squeeze(idx, 0)) if unbatched else (out, idx)
    return F.squeeze(out, 0) if unbatched else out


def _avg_divisor(size: tuple[int, int], geo: dict[str, Any], p: tuple[int, int],
                 count_include_pad: bool) -> np.ndarray:
    """torch's divisor per output position: the window clipped to the padded input
    (count_include_pad) or to the input itself."""
    parts = []
    for i in range(2):
        k, s = geo["kernel"][i], geo["stride"][i]
        n = out_size(size[i], k, s, geo["padding"][2 * i], geo["padding"][2 * i + 1], 1)
        start = np.arange(n) * s - p[i]
        end = np.minimum(start + k, size[i] + p[i])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size[i])
        parts.append(end - start)
    return np.outer(parts[0], parts[1])


def avg_pool2d(input: Any, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    from ..creation import tensor

    x, unbatched = _check_pool_input(input)
    geo = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    total = F.sum(bind("unfold2d", [x], {**geo, "pad": "zeros"}), (4, 5))
    if divisor_override is not None:
        div: Any = np.asarray(divisor_override)
    else:
        div = _avg_divisor(tuple(x.shape[2:]), geo, _pair(padding), count_include_pad)
    if np.all(div == div.flat[0]):
        div = float(div.flat[0])
    else:
        div = tensor(div.astype(x.dtype.name if x.dtype.is_floating_point else "float64"), device=x.device)
    if x.dtype.is_floating_point:
        out = total / div
    else:  # integer pooling truncates, as torch's does
        out = F.cast(F.div(F.cast(total, dtypes.float64), div), x.dtype)
    return F.squeeze(out, 0) if unbatched else out
