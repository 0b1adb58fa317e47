"""Front-end functions of the shape family, lowered to registry ops through `bind`.

Most are compositions of a few IR ops (stack = reshape + concat, repeat = reshape +
broadcast_to + reshape, diagonal = permute + reshape + strided slice, split = slices),
so their gradients come from those ops' rules.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any, Sequence

from .. import functional as F
from .._dispatch import bind
from ..ir import dtypes
from ..ir.dtypes import DType
from ..ir.ops.shape import is_skipped_in_cat
from ..ir.shapes import DimIndexError, broadcast_shapes, normalize_dim

__all__ = [
    "unflatten", "movedim", "moveaxis", "expand_as", "broadcast_tensors", "mT", "mH",
    "repeat", "tile", "cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack",
    "column_stack", "atleast_1d", "atleast_2d", "atleast_3d", "split", "chunk", "unbind",
    "narrow", "select", "flip", "fliplr", "flipud", "roll", "tril", "triu", "diagonal", "diag",
    "ravel",
]
METHODS: list[Any] = [
    "unflatten", "movedim", "moveaxis", "expand_as", "repeat", "tile", "split", "chunk",
    "unbind", "narrow", "select", "fliplr", "flipud", "roll", "tril", "triu", "diagonal",
    "diag", "ravel", {"flip": lambda x, *dims: flip(x, _varargs(dims))},
    {"tile": lambda x, *dims: tile(x, _varargs(dims))},
]


def _varargs(args: Sequence[Any]) -> Any:
    """x.f(1, 2) and x.f((1, 2)) mean the same."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def slice_dim(x: Any, dim: int, start: int, stop: int, step: int = 1,
              grad_name: str | None = "SliceBackward0") -> Any:
    """x[..., start:stop:step, ...] on one (normalized) dim; bounds already clamped."""
    starts = tuple(start if d == dim else 0 for d in range(x.ndim))
    stops = tuple(stop if d == dim else s for d, s in enumerate(x.shape))
    steps = tuple(step if d == dim else 1 for d in range(x.ndim))
    return bind("slice", [x], {"starts": starts, "stops": stops, "steps": steps},
                grad_name=grad_name)


def _no_dims(x: Any, what: str) -> None:
    if x.ndim == 0:
        raise RuntimeError(f"{what} expects at least a 1-dimensional tensor")


def _dim_of_0d(x: Any, dim: int) -> None:
    if x.ndim == 0:
        raise DimIndexError(f"Dimension specified as {dim} but tensor has no dimensions")


# ----------------------------------------------------------------- reshaping views


def unflatten(x: Any, dim: int, sizes: Sequence[int]) -> Any:
    _dim_of_0d(x, dim)
    d = normalize_dim(dim, x.ndim)
    sizes = [int(s) for s in sizes]
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = x.shape[d]
    known = reduce(operator.mul, (s for s in sizes if s != -1), 1)
    if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (
            -1 not in sizes and known != n):
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of "
                           f"dim {dim} ({n}) in the input tensor")
    sizes = [n // known if s == -1 else s for s in sizes]
    return F.reshape(x, tuple(x.shape[:d]) + tuple(sizes) + tuple(x.shape[d + 1:]))


def movedim(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    s = [normalize_dim(d, x.ndim) for d in src]
    t = [normalize_dim(d, x.ndim) for d in dst]
    for name, given, dims in (("source", src, s), ("destination", dst, t)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({given})")
    if x.ndim == 0:
        return F.reshape(x, ())
    perm = [-1] * x.ndim
    for a, b in zip(s, t):
        perm[b] = a
    rest = iter(d for d in range(x.ndim) if d not in s)
    perm = [p if p != -1 else next(rest) for p in perm]
    return F.permute(x, tuple(perm))


moveaxis = movedim


def expand_as(x: Any, other: Any) -> Any:
    shape = tuple(other.shape)
    if len(shape) < x.ndim:
        raise RuntimeError(
            f"expand({x.type()}{{{list(x.shape)}}}, size={list(shape)}): the number of sizes "
            f"provided ({len(shape)}) must be greater or equal to the number of dimensions in "
            f"the tensor ({x.ndim})")
    return F.broadcast_to(x, shape)


def broadcast_tensors(*tensors: Any) -> tuple[Any, ...]:
    tensors = _varargs(tensors)
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(F.broadcast_to(t, shape) for t in tensors)


def mT(x: Any) -> Any:
    """x.mT: the last two dims swapped (x.mH is the same for real tensors)."""
    if x.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {x.ndim}-D tensor.")
    return F.transpose(x, -2, -1)


mH = mT


def ravel(x: Any) -> Any:
    return F.reshape(x, (-1,))


def repeat(x: Any, *sizes: Any) -> Any:
    reps = tuple(int(r) for r in _varargs(sizes))
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    out = tuple(r * s for r, s in zip(reps, shape))
    if any(r < 0 for r in reps):
        bad = next(o for o in out if o < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {list(out)}")
    # (s0, s1) -> (1, s0, 1, s1) -> (r0, s0, r1, s1) -> (r0*s0, r1*s1)
    inter = tuple(v for s in shape for v in (1, s))
    wide = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    y = F.broadcast_to(F.reshape(x, inter), wide)
    return bind("reshape", [y], {"shape": out}, grad_name="RepeatBackward0")


def tile(x: Any, dims: int | Sequence[int]) -> Any:
    dims = (int(dims),) if isinstance(dims, int) else tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


# ----------------------------------------------------------------- joining


def _tensor_list(tensors: Any, what: str) -> list[Any]:
    from ..tensor import Tensor

    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{what}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {list(tensors).index(t)} in argument 0, "
                            f"but got {type(t).__name__}")
    return list(tensors)


def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    ts = _tensor_list(tensors, "cat")
    if not ts:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    dtype: DType = reduce(dtypes.promote_types, (t.dtype for t in ts))
    for i, t in enumerate(ts):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    ref = next((t for t in ts if not is_skipped_in_cat(t._type())), ts[0])
    d = normalize_dim(dim, ref.ndim)
    return bind("concat", [F.cast(t, dtype) for t in ts], {"dim": d})


concat = concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    ts = _tensor_list(tensors, "stack")
    if not ts:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(ts[1:], 1):
        if tuple(t.shape) != tuple(ts[0].shape):
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(ts[0].shape)} at entry 0 and {list(t.shape)} at entry {i}")
    d = normalize_dim(dim, ts[0].ndim, extra=1)
    dtype: DType = reduce(dtypes.promote_types, (t.dtype for t in ts))
    shape = tuple(ts[0].shape[:d]) + (1,) + tuple(ts[0].shape[d:])
    parts = [F.reshape(F.cast(t, dtype), shape) for t in ts]
    return bind("concat", parts, {"dim": d}, grad_name="StackBackward0")


def atleast_1d(x: Any) -> Any:
    return F.reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(x: Any) -> Any:
    return F.reshape(x, (1,) * (2 - x.ndim) + tuple(x.shape)) if x.ndim < 2 else x


def atleast_3d(x: Any) -> Any:
    if x.ndim == 0:
        return F.reshape(x, (1, 1, 1))
    if x.ndim == 1:
        return F.reshape(x, (1, x.shape[0], 1))
    return F.reshape(x, tuple(x.shape) + (1,)) if x.ndim == 2 else x


def hstack(tensors: Sequence[Any]) -> Any:
    ts = [atleast_1d(t) for t in _tensor_list(tensors, "hstack")]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Any:
    return cat([atleast_2d(t) for t in _tensor_list(tensors, "vstack")], 0)


def dstack(tensors: Sequence[Any]) -> Any:
    return cat([atleast_3d(t) for t in _tensor_list(tensors, "dstack")], 2)


def column_stack(tensors: Sequence[Any]) -> Any:
    ts = _tensor_list(tensors, "column_stack")
    return hstack([F.reshape(t, (t.numel(), 1)) if t.ndim < 2 else t for t in ts])


# ----------------------------------------------------------------- splitting


def split(x: Any, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Any, ...]:
    _no_dims(x, "split")
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        name = "SplitWithSizesBackward0"
    else:
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if size else [0]
        sizes = sizes or [0]
        name = "SplitBackward0"
    out, start = [], 0
    for s in sizes:
        out.append(slice_dim(x, d, start, start + s, grad_name=name))
        start += s
    return tuple(out)


def chunk(x: Any, chunks: int, dim: int = 0) -> tuple[Any, ...]:
    _no_dims(x, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if n == 0:
        return tuple(slice_dim(x, d, 0, 0) for _ in range(chunks))
    return split(x, -(-n // chunks), d)


def select(x: Any, dim: int, index: int) -> Any:
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    i = operator.index(index)
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {d}")
    i %= n
    part = slice_dim(x, d, i, i + 1, grad_name=None)
    shape = tuple(s for k, s in enumerate(x.shape) if k != d)
    return bind("reshape", [part], {"shape": shape}, grad_name="SelectBackward0")


def unbind(x: Any, dim: int = 0) -> tuple[Any, ...]:
    _dim_of_0d(x, dim)
    d = normalize_dim(dim, x.ndim)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def narrow(x: Any, dim: int, start: Any, length: int) -> Any:
    _no_dims(x, "narrow()")
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    start = operator.index(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    start = start + n if start < 0 else start
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return slice_dim(x, d, start, start + length)


# ----------------------------------------------------------------- reordering


def _unique_dims(dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    out = tuple(normalize_dim(d, ndim) for d in dims)
    for i, d in enumerate(out):
        if d in out[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def flip(x: Any, dims: int | Sequence[int]) -> Any:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = _unique_dims(dims, x.ndim)
    if x.ndim == 0 or not axes:
        return F.mul(x, 1) if x.dtype is not dtypes.bool_ else F.logical_and(x, True)
    return bind("flip", [x], {"dims": axes})


def fliplr(x: Any) -> Any:
    if x.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(x, (1,))


def flipud(x: Any) -> Any:
    if x.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(x, (0,))


def roll(x: Any, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Any:
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        flat = roll(F.reshape(x, (-1,)), shifts, 0)
        return F.reshape(flat, tuple(x.shape))
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    axes = tuple(normalize_dim(d, x.ndim) for d in dims)
    if x.numel() == 0 or x.ndim == 0:
        return F.mul(x, 1) if x.dtype is not dtypes.bool_ else F.logical_and(x, True)
    shifts = tuple(s % x.shape[a] for s, a in zip(shifts, axes))
    return bind("roll", [x], {"shifts": shifts, "dims": axes})


def tril(x: Any, diagonal: int = 0) -> Any:
    return bind("tri", [x], {"k": int(diagonal), "upper": False}, grad_name="TrilBackward0")


def triu(x: Any, diagonal: int = 0) -> Any:
    return bind("tri", [x], {"k": int(diagonal), "upper": True}, grad_name="TriuBackward0")


def diagonal(x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    d1, d2 = normalize_dim(dim1, x.ndim), normalize_dim(dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [d for d in range(x.ndim) if d not in (d1, d2)]
    n, m = x.shape[d1], x.shape[d2]
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    # the diagonal of an (n, m) matrix is every (m+1)-th element of its flattening
    flat = F.reshape(F.permute(x, tuple(rest) + (d1, d2)),
                     tuple(x.shape[d] for d in rest) + (n * m,))
    start = (offset if offset >= 0 else -offset * m) if length else 0
    stop = start + (length - 1) * (m + 1) + 1 if length else 0
    return slice_dim(flat, flat.ndim - 1, start, stop, m + 1, grad_name="DiagonalBackward0")


_diagonal = diagonal


def diag(x: Any, diagonal: int = 0) -> Any:
    if x.ndim == 2:
        return _diagonal(x, diagonal)
    if x.ndim != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    n = x.shape[0]
    size = n + abs(diagonal)
    start = diagonal if diagonal >= 0 else -diagonal * size
    zeros = bind("full", [], {"shape": (size * size,), "value": 0, "dtype": x.dtype})
    stop = start + (n - 1) * (size + 1) + 1 if n else start
    placed = bind("slice_scatter", [zeros, x], {"starts": (start,), "stops": (stop,),
                                                 "steps": (size + 1,)})
    return bind("reshape", [placed], {"shape": (size, size)}, grad_name="DiagEmbedBackward0")



def _named(name: str, fn: Any) -> Any:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = globals()[name].__doc__
    return fn


for _entry in METHODS:
    if isinstance(_entry, dict):
        for _name, _fn in _entry.items():
            _named(_name, _fn)
