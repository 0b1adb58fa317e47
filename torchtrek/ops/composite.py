"""torch functions that are compositions of other ops (their gradients come from those ops),
and the value queries that return Python values (equal, allclose: eager only).

Ops whose result's size depends on values (bincount, and searchsorted / bucketize's
arguments as data) run eagerly only; inside a trace they raise tt.TraceError."""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from .. import functional as F
from ..ir import dtypes
from ..ir.shapes import normalize_dim
from ..tracer import trace_error
from .indexing import index_select
from ..creation import ones_like
from .math import isfinite, log1p, maximum, minimum
from .reductions import norm
from .shape import cat, flip, narrow, stack
from .sorting import sort

__all__ = ["equal", "allclose", "isclose", "is_floating_point", "is_complex", "clone", "diff",
           "meshgrid", "cartesian_prod", "addcmul", "addcdiv", "logaddexp", "logaddexp2",
           "deg2rad", "rad2deg", "repeat_interleave", "rot90", "dist", "cdist", "median",
           "nanmedian", "nansum", "nanmean", "bincount", "searchsorted", "bucketize", "fmax",
           "fmin", "heaviside", "cross", "kron"]
METHODS: list[Any] = ["equal", "allclose", "isclose", "is_complex", "diff", "addcmul",
                      "addcdiv", "logaddexp", "logaddexp2", "deg2rad", "rad2deg",
                      "repeat_interleave", "rot90", "dist", "median", "nanmedian", "nansum",
                      "nanmean", "bincount", "fmax", "fmin", "heaviside", "cross", "kron",
                      "addcmul_", "addcdiv_"]


def _values(fn: str, *xs: Any) -> list[np.ndarray]:
    out = []
    for x in xs:
        v = x._values_or_none()
        if v is None:
            raise trace_error(f"torch.{fn} (it returns a Python value)")
        out.append(v)
    return out


# ----------------------------------------------------------------- value queries


def equal(a: Any, b: Any) -> bool:
    """True when a and b have the same shape and elements (torch.equal)."""
    x, y = _values("equal", a, b)
    return x.shape == y.shape and bool(np.array_equal(x, y))


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """|a - b| <= atol + rtol * |b| elementwise (bool), infinities equal to themselves."""
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{F._torch_type_name(a.dtype)} did not match "
                           f"{F._torch_type_name(b.dtype)}")
    close = F.eq(a, b)
    if a.dtype.is_floating_point:
        diff_ok = F.le(F.abs(a - b), atol + rtol * F.abs(b))
        finite = F.logical_and(isfinite(a), isfinite(b))
        close = F.logical_or(close, F.logical_and(diff_ok, finite))
        if equal_nan:
            close = F.logical_or(close, F.logical_and(F.ne(a, a), F.ne(b, b)))
    return close


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    x, y = _values("allclose", a, b)
    if x.dtype != y.dtype:
        raise RuntimeError(f"{F._torch_type_name(a.dtype)} did not match "
                           f"{F._torch_type_name(b.dtype)}")
    return bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))


def is_floating_point(x: Any) -> bool:
    return x.dtype.is_floating_point


def is_complex(x: Any) -> bool:
    return False  # no complex dtypes here


def clone(x: Any, *, memory_format: Any = None) -> Any:
    return x.clone()


# ----------------------------------------------------------------- arithmetic forms


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """input + value * tensor1 * tensor2."""
    return input + tensor1 * tensor2 * value if value != 1 else input + tensor1 * tensor2


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """input + value * tensor1 / tensor2."""
    return input + tensor1 * value / tensor2 if value != 1 else input + tensor1 / tensor2


def addcmul_(x: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    return x._inplace(lambda: addcmul(x, tensor1, tensor2, value=value))


def addcdiv_(x: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    return x._inplace(lambda: addcdiv(x, tensor1, tensor2, value=value))


def logaddexp(a: Any, b: Any) -> Any:
    """log(exp(a) + exp(b)) without overflow: max + log1p(exp(-|a - b|))."""
    m = maximum(a, b)
    return m + log1p(F.exp(-F.abs(a - b)))


def logaddexp2(a: Any, b: Any) -> Any:
    ln2 = float(np.log(2.0))
    return logaddexp(a * ln2, b * ln2) / ln2


def deg2rad(x: Any) -> Any:
    return x * (np.pi / 180.0)


def rad2deg(x: Any) -> Any:
    return x * (180.0 / np.pi)


def fmax(a: Any, b: Any) -> Any:
    """max ignoring NaN (NaN only where both are NaN)."""
    return F.where(F.ne(a, a), b, F.where(F.ne(b, b), a, maximum(a, b)))


def fmin(a: Any, b: Any) -> Any:
    return F.where(F.ne(a, a), b, F.where(F.ne(b, b), a, minimum(a, b)))


def heaviside(x: Any, values: Any) -> Any:
    return F.where(F.eq(x, 0), values, F.cast(F.gt(x, 0), x.dtype) * ones_like(values))


def cross(a: Any, b: Any, dim: int | None = None) -> Any:
    if dim is None:
        dim = next((i for i, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = normalize_dim(dim, a.ndim)
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[d]} and {b.shape[d]}")
    ax, ay, az = (narrow(a, d, i, 1) for i in range(3))
    bx, by, bz = (narrow(b, d, i, 1) for i in range(3))
    return cat([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], d)


def kron(a: Any, b: Any) -> Any:
    """The Kronecker product: every element of a times the whole of b."""
    n = builtins.max(a.ndim, b.ndim)
    a = F.reshape(a, (1,) * (n - a.ndim) + tuple(a.shape))
    b = F.reshape(b, (1,) * (n - b.ndim) + tuple(b.shape))
    inter_a = []
    inter_b = []
    for sa, sb in zip(a.shape, b.shape):
        inter_a += [sa, 1]
        inter_b += [1, sb]
    out = F.reshape(a, tuple(inter_a)) * F.reshape(b, tuple(inter_b))
    return F.reshape(out, tuple(sa * sb for sa, sb in zip(a.shape, b.shape)))


# ----------------------------------------------------------------- shapes


def diff(x: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """x[i + 1] - x[i] along dim, n times (bools: x[i + 1] != x[i])."""
    d = normalize_dim(dim, x.ndim)
    if prepend is not None or append is not None:
        parts = ([prepend] if prepend is not None else []) + [x] + \
            ([append] if append is not None else [])
        x = cat(parts, d)
    for _ in range(n):
        k = x.shape[d]
        if k == 0:
            break
        hi, lo = narrow(x, d, 1, k - 1), narrow(x, d, 0, k - 1)
        x = F.ne(hi, lo) if x.dtype is dtypes.bool_ else hi - lo
    return x


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Any, ...]:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        import warnings

        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                         f"received: {indexing}")
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = t.numel()
        out.append(F.broadcast_to(F.reshape(t, tuple(view)), shape))
    if swap:  # torch's "xy": the first two inputs swapped, then their grids swapped back
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors: Any) -> Any:
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([F.reshape(g, (-1,)) for g in grids], 1)


def repeat_interleave(x: Any, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Any:
    """Each element (or slice along dim) repeated `repeats` times (an int or a tensor)."""
    from ..creation import tensor

    if repeats is None:  # torch.repeat_interleave(repeats): indices repeated by their counts
        r = _values("repeat_interleave", x)[0]
        return tensor(np.repeat(np.arange(len(r)), r), dtype=dtypes.int64)
    if dim is None:
        x = F.reshape(x, (-1,))
        dim = 0
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(repeats, int):
        counts = np.full(n, repeats)
    else:
        counts = _values("repeat_interleave", repeats)[0].reshape(-1)
        if counts.size == 1:
            counts = np.full(n, int(counts[0]))
        if counts.size != n:
            raise RuntimeError("repeats must have the same size as input along dim")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return index_select(x, d, tensor(np.repeat(np.arange(n), counts), dtype=dtypes.int64))


def rot90(x: Any, k: int = 1, dims: Sequence[int] = (0, 1)) -> Any:
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    d0, d1 = (normalize_dim(d, x.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return F.transpose(flip(x, [d1]), d0, d1)
    if k == 2:
        return flip(x, [d0, d1])
    if k == 3:
        return flip(F.transpose(x, d0, d1), [d1])
    return x.clone()


# ----------------------------------------------------------------- distances


def dist(a: Any, b: Any, p: float = 2) -> Any:
    return norm(a - b, p)


def cdist(x1: Any, x2: Any, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Any:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    d = F.unsqueeze(x1, -2) - F.unsqueeze(x2, -3)
    return norm(d, p, -1)


# ----------------------------------------------------------------- order statistics


def median(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (torch's): sorted[(n - 1) // 2]; with dim, (values, indices)."""
    from .. import return_types

    if dim is None:
        flat = F.reshape(x, (-1,))
        if flat.shape[0] == 0:
            return F.mul(F.sum(flat), float("nan"))
        s = sort(flat).values
        return F.reshape(narrow(s, 0, (flat.shape[0] - 1) // 2, 1), ())
    d = normalize_dim(dim, x.ndim)
    r = sort(x, d)
    k = (x.shape[d] - 1) // 2
    values, indices = narrow(r.values, d, k, 1), narrow(r.indices, d, k, 1)
    if not keepdim:
        values, indices = F.squeeze(values, d), F.squeeze(indices, d)
    return return_types.structseq("median", ["values", "indices"])(values, indices)


def nanmedian(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    if dim is not None:
        raise NotImplementedError("torch.nanmedian(dim=...) is not supported by TorchTrek")
    v = _values("nanmedian", x)[0].reshape(-1)
    v = np.sort(v[~np.isnan(v)])
    from ..creation import tensor

    return tensor(v[(len(v) - 1) // 2] if len(v) else np.nan, dtype=x.dtype)


def nansum(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    return F.sum(F.where(F.ne(x, x), 0.0, x), dim, keepdim, dtype=dtype)


def nanmean(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    valid = F.cast(F.eq(x, x), x.dtype)
    return nansum(x, dim, keepdim, dtype=dtype) / F.sum(valid, dim, keepdim)


# ----------------------------------------------------------------- counting and buckets


def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Any:
    from ..creation import tensor

    v = _values("bincount", x)[0]
    if v.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if v.size and v.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return tensor(np.bincount(v, minlength=minlength), dtype=dtypes.int64)
    w = _values("bincount", weights)[0]
    out = np.bincount(v, weights=w, minlength=minlength)
    return tensor(out, dtype=dtypes.float64 if w.dtype != np.float32 else dtypes.float32)


def searchsorted(sorted_sequence: Any, values: Any, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter: Any = None) -> Any:
    from ..creation import tensor

    seq, = _values("searchsorted", sorted_sequence)
    vals = values._values_or_none() if hasattr(values, "_values_or_none") else np.asarray(values)
    if vals is None:
        raise trace_error("torch.searchsorted")
    side = side or ("right" if right else "left")
    if seq.ndim == 1:
        out = np.searchsorted(seq, vals, side=side)
    else:
        out = np.stack([np.searchsorted(s, v, side=side) for s, v in
                        zip(seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1]))])
        out = out.reshape(vals.shape)
    return tensor(out, dtype=dtypes.int32 if out_int32 else dtypes.int64)


def bucketize(input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False) -> Any:
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)

