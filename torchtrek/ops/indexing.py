"""Front-end functions of the indexing family, lowered to registry ops through `bind`.

`x[index]` / `x[index] = v` live in _subscript.py. Ops whose result's shape depends on
values (nonzero, masked_select, boolean-mask indexing) run eagerly only; under a trace
they raise tt.TraceError pointing at shape-preserving alternatives.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import functional as F
from .._dispatch import bind
from ..ir import dtypes
from ..ir.graph import Literal
from ..ir.shapes import broadcast_shapes, normalize_dim
from ..tracer import trace_error
from ._subscript import _check_bounds, _tensor_cls, getitem, parse, setitem

__all__ = [
    "index_select", "gather", "scatter", "scatter_add", "masked_fill", "masked_select", "take",
    "take_along_dim", "index_add", "index_copy", "index_put", "nonzero", "argwhere",
]
METHODS: list[Any] = __all__[:] + [
    {"__getitem__": getitem}, {"__setitem__": setitem},
    "masked_fill_", "scatter_", "scatter_add_", "index_add_", "index_copy_", "index_put_",
]

_TYPE = F._torch_type_name  # Float, Long, ... as torch's messages spell dtypes


def _value_literal(value: Any, dtype: dtypes.DType) -> Literal:
    """A Python number as a literal of `dtype` (torch casts: 2.7 into int64 is 2)."""
    if dtype is dtypes.bool_:
        return Literal(bool(value), dtype)
    return Literal(float(value), dtype) if dtype.is_floating_point else Literal(int(value), dtype)


def _int_index(index: Any, what: str, allowed: str = "int32 or int64") -> Any:
    if not isinstance(index, _tensor_cls()):
        raise TypeError(f"{what}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype not in (dtypes.int32, dtypes.int64):
        raise RuntimeError(f"{what}(): Expected dtype {allowed} for index")
    return index


def _bounds(index: Any, size: int, message: str) -> None:
    """Concrete index values outside [0, size): torch's error (symbolic ones can't be)."""
    data = index._values_or_none()
    if data is not None and data.size and ((data < 0) | (data >= size)).any():
        bad = int(data.reshape(-1)[np.argmax(((data < 0) | (data >= size)).reshape(-1))])
        raise RuntimeError(message.format(bad))


# ----------------------------------------------------------------- select by index


def index_select(x: Any, dim: int, index: Any) -> Any:
    _int_index(index, "index_select")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        if index.numel() != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{index.numel()} value(s)")
        _bounds(index, 1, "INDICES element is out of DATA bounds, id={} axis_dim=1")
        return bind("index", [F.reshape(x, (1,)), F.reshape(index, ())], {"dims": (0,)},
                    grad_name="IndexSelectBackward0")
    n = x.shape[d]
    _bounds(index, n, "INDICES element is out of DATA bounds, id={} axis_dim=%d" % n)
    return bind("index", [x, F.reshape(index, (-1,))], {"dims": (d,)},
                grad_name="IndexSelectBackward0")


def take(x: Any, index: Any) -> Any:
    _int_index(index, "take", "int64")
    n = x.numel()
    data = index._values_or_none()
    if data is not None and data.size and ((data < -n) | (data >= n)).any():
        bad = int(data.reshape(-1)[np.argmax(((data < -n) | (data >= n)).reshape(-1))])
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return bind("index", [F.reshape(x, (-1,)), index], {"dims": (0,)}, grad_name="TakeBackward0")


def _along(x: Any, index: Any, dim: int, what: str) -> tuple[Any, Any, int, tuple[int, ...]]:
    """gather/scatter operands with 0-d ones as 1-d (torch treats them alike)."""
    d = normalize_dim(dim, x.ndim)
    if max(x.ndim, 1) != max(index.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    out_shape = tuple(index.shape)
    if x.ndim == 0:
        x = F.reshape(x, (1,))
    if index.ndim == 0:
        index = F.reshape(index, (1,))
    for k, (s, i) in enumerate(zip(x.shape, index.shape)):
        if k != d and i > s:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(index.shape)} to be no larger than self {list(x.shape)} "
                               f"apart from dimension {d}")
    _bounds(index, x.shape[d], "index {} is out of bounds for dimension %d with size %d"
            % (d, x.shape[d]))
    return x, index, d, out_shape


def gather(x: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Any:
    _int_index(index, "gather", "int32/int64")
    x1, idx, d, out_shape = _along(x, index, dim, "gather")
    out = bind("gather", [x1, idx], {"dim": d}, grad_name="GatherBackward0")
    return F.reshape(out, out_shape) if tuple(out.shape) != out_shape else out


def take_along_dim(x: Any, indices: Any, dim: int | None = None) -> Any:
    if dim is None:
        return gather(F.reshape(x, (-1,)), 0, F.reshape(indices, (-1,)))
    d = normalize_dim(dim, x.ndim)
    xs, ids = list(x.shape), list(indices.shape)
    xs[d] = ids[d] = 1
    shape = list(broadcast_shapes(tuple(xs), tuple(ids)))
    x_shape, i_shape = shape[:], shape[:]
    x_shape[d], i_shape[d] = x.shape[d], indices.shape[d]
    return gather(F.broadcast_to(x, tuple(x_shape)), d, F.broadcast_to(indices, tuple(i_shape)))


# ----------------------------------------------------------------- scatter


def _src_operand(x: Any, index: Any, src: Any, d: int, what: str) -> Any:
    """src as the op wants it: a literal of x's dtype, or a tensor cut to index's shape."""
    if not isinstance(src, _tensor_cls()):
        return _value_literal(src, x.dtype)
    if src.dtype is not x.dtype:
        raise RuntimeError(f"{what}(): Expected self.dtype to be equal to src.dtype")
    if max(src.ndim, 1) != index.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    src = F.reshape(src, (1,)) if src.ndim == 0 else src
    if any(i > s for i, s in zip(index.shape, src.shape)):
        raise RuntimeError(f"Expected index {list(index.shape)} to be no larger than self "
                           f"{list(x.shape)} apart from dimension {d} and to be no larger size "
                           f"than src {list(src.shape)}")
    if tuple(src.shape) != tuple(index.shape):
        src = bind("slice", [src], {"starts": (0,) * src.ndim, "stops": tuple(index.shape),
                                    "steps": (1,) * src.ndim})
    return src


def _scatter(op: str, x: Any, dim: int, index: Any, src: Any, grad_name: str) -> Any:
    _int_index(index, op.split("_")[0], "int64")
    x1, idx, d, _ = _along(x, index, dim, op)
    s = _src_operand(x1, idx, src, d, op.split("_")[0])
    out = bind(op, [x1, idx, s], {"dim": d}, grad_name=grad_name)
    return F.reshape(out, tuple(x.shape)) if x.ndim == 0 else out


def scatter(x: Any, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Any:
    src = value if src is None else src
    if src is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' (or value=)")
    if reduce == "add":
        if not isinstance(src, _tensor_cls()):
            src = _full(tuple(index.shape), src, x.dtype)
        return _scatter("scatter_add", x, dim, index, src, "ScatterReduceBackward0")
    if reduce is not None:
        raise NotImplementedError(f"scatter(reduce={reduce!r}) is not supported yet (only 'add')")
    name = "ScatterBackward0" if isinstance(src, _tensor_cls()) else "ScatterBackward1"
    return _scatter("scatter", x, dim, index, src, name)


def _full(shape: tuple[int, ...], value: Any, dtype: dtypes.DType) -> Any:
    from ..creation import full

    return full(shape, value, dtype=dtype)


def scatter_add(x: Any, dim: int, index: Any, src: Any) -> Any:
    return _scatter("scatter_add", x, dim, index, src, "ScatterAddBackward0")


def index_add(x: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
    if index.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{index.ndim} with type: {_TYPE(index.dtype)} and size: "
                         f"{list(index.shape)}")
    _int_index(index, "index_add_")
    if source.dtype is not x.dtype:
        raise RuntimeError(f"index_add_(): self ({_TYPE(x.dtype)}) and source "
                           f"({_TYPE(source.dtype)}) must have the same scalar type")
    d = normalize_dim(dim, x.ndim)
    n = index.numel()
    if x.ndim and source.ndim and source.shape[d] != n:
        raise RuntimeError(f"index_add_(): Number of indices ({n}) should be equal to "
                           f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    _bounds(index, x.shape[d] if x.ndim else 1,
            "index {} is out of bounds for dimension %d with size %d"
            % (d, x.shape[d] if x.ndim else 1))
    if alpha != 1:
        source = F.mul(source, alpha)
    x1 = F.reshape(x, (1,)) if x.ndim == 0 else x
    src = F.reshape(source, (1,)) if source.ndim == 0 else source
    out = bind("index_put", [x1, src, F.reshape(index, (-1,))], {"dims": (d,), "accumulate": True},
               grad_name="IndexAddBackward0")
    return F.reshape(out, ()) if x.ndim == 0 else out


def index_copy(x: Any, dim: int, index: Any, source: Any) -> Any:
    """x with x[..., index[i], ...] = source[..., i, ...] along `dim` (the last write wins for
    a repeated index; torch leaves that order unspecified)."""
    if index.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.ndim})")
    _int_index(index, "index_copy_", "int64")
    if source.dtype is not x.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, "
                           f"but got (self) {_TYPE(x.dtype)} and (source) {_TYPE(source.dtype)}")
    d = normalize_dim(dim, x.ndim)
    n = index.numel()
    if x.ndim and source.ndim and source.shape[d] != n:
        raise IndexError(f"index_copy_(): Number of indices ({n}) should be equal to "
                         f"source.size(dim) ({source.shape[d]})")
    _bounds(index, x.shape[d] if x.ndim else 1,
            "index_copy_(): index {} is out of bounds for dimension %d with size %d"
            % (d, x.shape[d] if x.ndim else 1))
    x1 = F.reshape(x, (1,)) if x.ndim == 0 else x
    src = F.reshape(source, (1,)) if source.ndim == 0 else source
    out = bind("index_put", [x1, src, F.reshape(index, (-1,))], {"dims": (d,), "accumulate": False},
               grad_name="IndexCopyBackward0")
    return F.reshape(out, ()) if x.ndim == 0 else out


def index_put(x: Any, indices: Sequence[Any], values: Any, accumulate: bool = False) -> Any:
    """torch.index_put: x with x[indices] = values (+= when accumulate), out of place."""
    Tensor = _tensor_cls()
    for i, t in enumerate(indices):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    if not isinstance(values, Tensor):
        values = _full((), values, x.dtype)
    if values.dtype is not x.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_TYPE(x.dtype)} for the destination and "
                           f"{_TYPE(values.dtype)} for the source.")
    plan = parse(x, tuple(indices), select_0d=False)
    advanced = plan.advanced
    if tuple(plan.layout) != tuple(x.shape) or not advanced:  # only masks add dims
        raise RuntimeError("index_put: expected one index tensor per leading dim of the input")
    for k, (d, i) in enumerate(advanced):
        _check_bounds(i, x.shape[d], k)
    dims = tuple(d for d, _ in advanced)
    return bind("index_put", [x, values, *(i for _, i in advanced)],
                {"dims": dims, "accumulate": bool(accumulate)}, grad_name="IndexPutBackward0")


# ----------------------------------------------------------------- masks


def masked_fill(x: Any, mask: Any, value: Any) -> Any:
    Tensor = _tensor_cls()
    if mask.dtype is not dtypes.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{F._c_type(mask.dtype) if mask.dtype.category else mask.dtype.name}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        v: Any = F.cast(value, x.dtype)
        name = "MaskedFillBackward1"
    else:
        v = _value_literal(value, x.dtype)
        name = "MaskedFillBackward0"
    return bind("where", [mask, v, x], grad_name=name)


def masked_select(x: Any, mask: Any) -> Any:
    if mask.dtype is not dtypes.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    if mask._data is None:
        raise trace_error("masked_select (its result's shape depends on the mask's values; "
                          "keep the shape with tt.where(mask, x, 0))")
    shape = broadcast_shapes(tuple(x.shape), tuple(mask.shape))
    xb = F.broadcast_to(x, shape) if tuple(x.shape) != shape else x
    mb = F.broadcast_to(mask, shape) if tuple(mask.shape) != shape else mask
    return getitem(xb, mb)


def nonzero(x: Any, *, as_tuple: bool = False) -> Any:
    if x._data is None:
        raise trace_error("nonzero (its result's shape depends on the values; select with "
                          "tt.where(cond, a, b) instead)")
    from ..tensor import Tensor

    found = np.nonzero(x._data) if x.ndim else np.nonzero(x._data.reshape(1))
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in found)
    return Tensor._wrap(np.argwhere(x._data).astype(np.int64))


def argwhere(x: Any) -> Any:
    return nonzero(x)


# ----------------------------------------------------------------- in place


def _in_place(name: str, fn: Any) -> Any:
    def method(x: Any, *args: Any, **kwargs: Any) -> Any:
        return x._inplace(lambda: fn(x, *args, **kwargs))

    method.__name__ = name
    method.__doc__ = f"In-place {fn.__name__} (see Tensor._inplace: eager or traced)."
    return method


masked_fill_ = _in_place("masked_fill_", masked_fill)
scatter_ = _in_place("scatter_", scatter)
scatter_add_ = _in_place("scatter_add_", scatter_add)
index_add_ = _in_place("index_add_", index_add)
index_copy_ = _in_place("index_copy_", lambda x, dim, index, source: index_copy(x, dim, index, source))
index_put_ = _in_place("index_put_", index_put)
