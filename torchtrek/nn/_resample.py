"""torch.nn.functional.pad's non-constant modes and interpolate, as index selections with
constant index arrays and weights, so their gradients are index_select's (a scatter-add), as
torch's are. Weights are computed in the input's float type, as ATen's CPU kernels do."""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from .. import functional as F
from ..ops.indexing import index_select
from ..ops.shape import narrow


def _const(values: np.ndarray, like: Any) -> Any:
    from ..creation import tensor

    return tensor(values, device=like.device)


# ----------------------------------------------------------------- pad


def _pad_index(n: int, before: int, after: int, mode: str, dim: int, shape: Sequence[int],
               pad: Sequence[int]) -> np.ndarray:
    j = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        if before > n or after > n:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        return j % n
    if before >= n or after >= n:  # reflect
        raise RuntimeError(
            f"Argument #4: Padding size should be less than the corresponding input dimension, "
            f"but got: padding ({before}, {after}) at dimension {dim} of input {list(shape)}")
    j = np.abs(j)
    return np.where(j > n - 1, 2 * (n - 1) - j, j)


def pad_by_index(input: Any, pad: Sequence[int], mode: str) -> Any:
    """reflect / replicate / circular padding of the last len(pad) // 2 dimensions."""
    k = len(pad) // 2
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
            f"(got a {input.ndim}-d input and {len(pad)} pad values for mode {mode!r})")
    out = input
    for i in range(k):
        d = input.ndim - 1 - i
        before, after = int(pad[2 * i]), int(pad[2 * i + 1])
        n = out.shape[d]
        if before < 0 or after < 0:  # negative: crop first
            out = narrow(out, d, max(-before, 0), n - max(-before, 0) - max(-after, 0))
            n = out.shape[d]
            before, after = max(before, 0), max(after, 0)
        if before or after:
            idx = _pad_index(n, before, after, mode, d, input.shape, pad)
            out = index_select(out, d, _const(idx, input))
    return out


def crop(input: Any, pad: Sequence[int]) -> tuple[Any, list[int]]:
    """Negative constant padding is cropping: apply it, return the padding left to add."""
    rest = list(pad)
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        before, after = int(pad[2 * i]), int(pad[2 * i + 1])
        if before < 0 or after < 0:
            n = input.shape[d]
            b, a = max(-before, 0), max(-after, 0)
            if b + a > n:
                raise RuntimeError(f"The input size {n}, plus negative padding {before} and "
                                   f"{after} resulted in a negative output size, which is "
                                   f"invalid. Check dimension {d} of your input.")
            input = narrow(input, d, b, n - b - a)
            rest[2 * i], rest[2 * i + 1] = max(before, 0), max(after, 0)
    return input, rest


# ----------------------------------------------------------------- interpolate

_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "trilinear": 3}


def _output_sizes(input: Any, size: Any, scale_factor: Any, k: int) -> tuple[list[int], list]:
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [int(size)] * k if isinstance(size, int) else [int(s) for s in size]
        if len(sizes) != k:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{spatial} and output size of {list(size)}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size "
                             f"in (o1, o2, ...,oK) format.")
        return sizes, [None] * k
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = [float(scale_factor)] * k if not isinstance(scale_factor, (tuple, list)) \
        else [float(s) for s in scale_factor]
    if len(scales) != k:
        raise ValueError(f"Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of {spatial} and "
                         f"scale_factor of shape {list(scale_factor)}.")
    return [int(math.floor(n * s)) for n, s in zip(spatial, scales)], scales


def _ratio(n_in: int, n_out: int, align_corners: bool, scale: float | None, ft: type) -> Any:
    if align_corners:
        return ft((n_in - 1) / (n_out - 1)) if n_out > 1 else ft(0)
    return ft(1.0 / scale) if scale is not None and scale > 0 else ft(n_in) / ft(n_out)


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Any:
    """Resize the spatial dimensions of an (N, C, d1, ...) input: nearest, nearest-exact,
    linear, bilinear, trilinear (bicubic and area are not supported)."""
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate(mode={mode!r}) is not supported by TorchTrek "
                                  f"(modes: {', '.join(_MODES)})")
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not supported by TorchTrek")
    k = input.ndim - 2
    if k < 1:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                         f"{input.ndim}D) for the modes: nearest | linear | bilinear | bicubic | "
                         f"trilinear | area | nearest-exact (got {mode})")
    if _MODES[mode] and _MODES[mode] != k:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_MODES[mode] + 2}D input")
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if not mode.startswith("nearest") and align_corners is None:
        align_corners = False
    sizes, scales = _output_sizes(input, size, scale_factor, k)
    if recompute_scale_factor:
        scales = [None] * k
    ft = np.float64 if input.dtype.name == "float64" else np.float32
    out = input
    for i in reversed(range(k)):  # the last dim first: torch's order of the weighted sums
        d = 2 + i
        n_in, n_out = input.shape[d], sizes[i]
        dst = np.arange(n_out)
        if mode.startswith("nearest"):
            r = _ratio(n_in, n_out, False, scales[i], ft)
            shift = ft(0.5) if mode == "nearest-exact" else ft(0)
            src = np.minimum(np.floor((dst.astype(ft) + shift) * r).astype(np.int64), n_in - 1)
            out = index_select(out, d, _const(src, input))
            continue
        r = _ratio(n_in, n_out, align_corners, scales[i], ft)
        if align_corners:
            real = r * dst.astype(ft)
        else:
            real = np.maximum(r * (dst.astype(ft) + ft(0.5)) - ft(0.5), ft(0))
        i0 = np.minimum(real.astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        l1 = (real - i0).astype(ft)
        l0 = (ft(1) - l1).astype(ft)
        shape = [1] * input.ndim
        shape[d] = n_out
        w0 = _const(l0.reshape(shape), input)
        w1 = _const(l1.reshape(shape), input)
        out = index_select(out, d, _const(i0, input)) * w0 + \
            index_select(out, d, _const(i1, input)) * w1
    return out


def upsample(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Any:
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)
