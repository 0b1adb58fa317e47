"""Front-end functions of the sorting family: sort, argsort, msort, topk, kthvalue (traceable:
an `argsort` op plus a `gather`) and unique (eager only: its size depends on the values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import return_types
from .._dispatch import bind
from ..ir import dtypes
from ..ir.shapes import DimIndexError, normalize_dim
from ..tracer import trace_error
from .shape import narrow

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive"]
METHODS: list[Any] = __all__[:]

_sort_result = return_types.sort
_topk_result = return_types.topk
_kthvalue_result = return_types.kthvalue


def _check(fn: str, x: Any) -> None:
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")


def _line_dim(x: Any, dim: int) -> int:
    return normalize_dim(dim, max(x.ndim, 1))


def _argsort_along(x: Any, dim: int, descending: bool) -> Any:
    if x.ndim == 0:
        from ..creation import zeros

        return zeros((), dtype=dtypes.int64, device=x.device)
    return bind("argsort", [x], {"dim": dim, "descending": bool(descending)})


def _gather(x: Any, dim: int, idx: Any, grad_name: str) -> Any:
    if x.ndim == 0:
        return x.clone()
    return bind("gather", [x, idx], {"dim": dim}, grad_name=grad_name)


def sort(x: Any, dim: int = -1, descending: bool = False, stable: bool | None = False, *,
         out: Any = None) -> Any:
    """(values, indices) sorted along `dim`; stable whether or not `stable` is asked for."""
    _check("sort", x)
    d = _line_dim(x, dim)
    idx = _argsort_along(x, d, descending)
    return _sort_result(_gather(x, d, idx, "SortBackward0"), idx)


def argsort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    _check("argsort", x)
    return _argsort_along(x, _line_dim(x, dim), descending)


def msort(x: Any) -> Any:
    return sort(x, 0).values


def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,
         out: Any = None) -> Any:
    """The k largest (or smallest) values along `dim` and their indices, largest first."""
    _check("topk", x)
    d = _line_dim(x, dim)
    n = x.shape[d] if x.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"topk(): argument 'k' (position 2) must be int, not {type(k).__name__}")
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    idx = _argsort_along(x, d, largest)
    if x.ndim:
        idx = narrow(idx, d, 0, int(k))
    return _topk_result(_gather(x, d, idx, "TopkBackward0"), idx)


def kthvalue(x: Any, k: int, dim: int = -1, keepdim: bool = False, *, out: Any = None) -> Any:
    """The k-th smallest value along `dim` (k counts from 1) and its index."""
    _check("kthvalue", x)
    d = _line_dim(x, dim)
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    idx = _argsort_along(x, d, False)
    if x.ndim:
        idx = narrow(idx, d, int(k) - 1, 1)
    values = _gather(x, d, idx, "KthvalueBackward0")
    if x.ndim and not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return _kthvalue_result(values, idx)


def _concrete(fn: str, x: Any) -> np.ndarray:
    data = x._values_or_none()
    if data is None:
        raise trace_error(f"torch.{fn} (its result's size depends on the values); compute it "
                          "outside the compiled function")
    return data


def _result(x: Any, data: np.ndarray, dtype: Any) -> Any:
    from ..creation import tensor

    return tensor(data, dtype=dtype, device=x.device)


def unique(x: Any, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct values (sorted), with the inverse map and counts when asked, as torch."""
    _check("unique", x)
    data = _concrete("unique", x)
    if dim is None:
        values, inverse, counts = np.unique(data.reshape(-1), return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(data.shape)
    else:
        d = normalize_dim(dim, x.ndim)
        if data.shape[d] == 0:
            raise DimIndexError(f"Number of zero sized dimensions is more than one, so unique "
                                f"cannot be applied on dimension {dim}")
        values, inverse, counts = np.unique(data, axis=d, return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(-1)
    out = [_result(x, values, x.dtype)]
    if return_inverse:
        out.append(_result(x, inverse.astype(np.int64), dtypes.int64))
    if return_counts:
        out.append(_result(x, counts.astype(np.int64), dtypes.int64))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(x: Any, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    _check("unique_consecutive", x)
    if dim is not None:
        raise NotImplementedError("torch.unique_consecutive(dim=...) is not supported by "
                                  "TorchTrek (only dim=None)")
    data = _concrete("unique_consecutive", x).reshape(-1)
    if data.size == 0:
        starts = np.zeros(0, dtype=bool)
    else:
        starts = np.concatenate([[True], data[1:] != data[:-1]])
    values = data[starts]
    out = [_result(x, values, x.dtype)]
    if return_inverse:
        out.append(_result(x, (np.cumsum(starts) - 1).reshape(x.shape).astype(np.int64),
                           dtypes.int64))
    if return_counts:
        pos = np.flatnonzero(np.concatenate([starts, [True]]))
        out.append(_result(x, np.diff(pos).astype(np.int64), dtypes.int64))
    return out[0] if len(out) == 1 else tuple(out)
