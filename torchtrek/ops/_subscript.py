"""`x[index]` and `x[index] = value` with torch's rules (a helper of ops/indexing.py).

An index is parsed once into a Plan, in torch's order: integers select (they drop their
dim before advanced indices are placed), slices and None are views, Python bools and
boolean masks become integer index tensors, and the integer tensors left index
together (broadcast; their result dims go where the first one was when they are
adjacent, else first). A plan lowers to a few IR ops: one `slice` for every slice and
integer, one `reshape` dropping integer dims and adding None dims, and one `index` for
the advanced indices (plus one per symbolic 0-d integer index, a select).

`x[index] = value` writes into x's NumPy array eagerly (views see it, as in torch);
while tracing it rebinds x to `assign(x, index, value)`, that chain run backwards with
`slice_scatter` and `index_put`, so assignment compiles and is differentiable.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import autograd
from .._dispatch import _tensor_cls, bind, on_device_of
from ..functional import _torch_type_name
from ..ir import dtypes
from ..ir.ops.indexing import index_shape
from ..ir.ops.shape import slice_len
from ..ir.graph import Literal
from ..tracer import current_trace, trace_error
from ..ir.symdims import is_symbolic
from ..ir.symint import unwrap

_VALID = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
          "valid indices (got {})")
_MASK_HINT = ("boolean-mask indexing x[mask] (the result's shape depends on the mask's values, "
              "so it cannot be compiled; keep the shape with tt.where(mask, x, 0) or "
              "x.masked_fill(~mask, 0))")


@dataclass
class Plan:
    shape: tuple[int, ...]  # the indexed tensor's shape
    starts: list[int] = field(default_factory=list)
    stops: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    layout: list[int] = field(default_factory=list)  # the shape after slice + reshape
    selects: list[tuple[int, Any]] = field(default_factory=list)  # symbolic 0-d int tensors
    advanced: list[tuple[int, Any]] = field(default_factory=list)  # (dim in layout, index)
    basic_only: bool = True  # ints, slices, None, ... only: NumPy indexes the same way
    int_tensor: bool = False  # an integer tensor (or list) index: index_put_ semantics
    numpy_key: list[Any] = field(default_factory=list)


def _as_items(index: Any) -> tuple[Any, ...]:
    """torch's treatSequenceAsTuple: a short list holding sequences, tensors, slices,
    None or ... is a tuple of indices (deprecated, still honoured); other lists are one
    integer or boolean index tensor."""
    Tensor = _tensor_cls()
    if isinstance(index, tuple):
        return index
    if isinstance(index, list) and len(index) < 32 and any(
            isinstance(i, (Tensor, list, tuple, slice, np.ndarray)) or i is None or i is Ellipsis
            for i in index):
        return tuple(index)
    return (index,)


def _index_tensor(item: Any) -> Any:
    """A list or array index as a tensor (an empty list is an int64 index)."""
    from ..creation import tensor

    arr = np.asarray(item)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return tensor(arr)


def _index_tensor_any(value: Any) -> Any:
    from ..creation import tensor

    return tensor(np.asarray(value))


def _check_bounds(idx: Any, size: int, dim: int) -> None:
    """Concrete index values against the dim's size (symbolic ones are NumPy's to check)."""
    data = idx._values_or_none()
    if data is None or data.size == 0:
        return
    bad = (data < -size) | (data >= size)
    if bad.any():
        if size == 0:
            raise IndexError("index is out of bounds for dimension with size 0")
        v = int(data.reshape(-1)[np.argmax(bad.reshape(-1))])
        raise IndexError(f"index {v} is out of bounds for dimension {dim} with size {size}")


def _symbolic_bounds(it: slice, step: int, n: Any) -> tuple[Any, Any]:
    """start, stop of a slice of a symbolic size n (>= 2): the slices whose length is
    known without knowing n (x[:], x[1:], x[2:]); others need n (TypeError: specialize)."""
    start = 0 if it.start is None else operator.index(it.start)
    if step != 1 or it.stop is not None or not 0 <= start <= 2:
        raise TypeError(f"slice {it} of a symbolic size {n} needs its value")
    return start, n


def parse(x: Any, index: Any, *, select_0d: bool = True) -> Plan:
    """The plan of x[index]; `select_0d=False` keeps 0-d integer tensors advanced indices
    (index_put's rule) instead of selects (x[t]'s rule)."""
    Tensor = _tensor_cls()
    items = list(_as_items(index))
    for i, it in enumerate(items):
        if isinstance(it, (list, np.ndarray)):
            items[i] = _index_tensor(it)
        elif isinstance(it, Tensor) and it.dtype is dtypes.uint8:
            items[i] = it.to(dtypes.bool_)  # legacy byte masks
        elif isinstance(it, (np.integer, np.bool_)):
            items[i] = it.item()
    consumed = 0
    for it in items:
        if isinstance(it, Tensor):
            if it.dtype is not dtypes.bool_ and it.dtype.category != 1:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            consumed += it.ndim if it.dtype is dtypes.bool_ else 1
        elif isinstance(it, (int, slice)) and not isinstance(it, bool):
            consumed += 1
        elif not (it is None or it is Ellipsis or isinstance(it, bool)):
            raise IndexError(_VALID.format(type(it).__name__))
    if consumed > x.ndim:
        if x.ndim == 0 and any(isinstance(it, int) and not isinstance(it, bool) for it in items):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")

    plan = Plan(tuple(x.shape))
    src = 0  # the next dim of x to index
    pos = 0  # torch's dim counter for messages
    ellipsis_seen = False

    def keep(start: int, stop: int, step: int) -> None:
        plan.starts.append(start)
        plan.stops.append(stop)
        plan.steps.append(step)

    for it in items:
        if it is Ellipsis:
            n = 0 if ellipsis_seen else x.ndim - consumed
            ellipsis_seen = True
            for _ in range(n):
                keep(0, x.shape[src], 1)
                plan.layout.append(x.shape[src])
                plan.numpy_key.append(slice(None))
                src += 1
                pos += 1
        elif it is None:
            plan.layout.append(1)
            plan.numpy_key.append(None)
            pos += 1
        elif isinstance(it, bool):
            plan.layout.append(1)
            plan.advanced.append((len(plan.layout) - 1, _index_tensor([0] if it else [])))
            plan.basic_only = False
        elif isinstance(it, slice):
            step = 1 if it.step is None else operator.index(it.step)
            if step == 0:
                raise ValueError("slice step cannot be zero")
            if step < 0:
                raise ValueError("step must be greater than zero")
            if is_symbolic(x.shape[src]):
                start, stop = _symbolic_bounds(it, step, unwrap(x.shape[src]))
            else:
                start, stop, _ = slice(it.start, it.stop, step).indices(x.shape[src])
            stop = stop if is_symbolic(stop) else max(start, stop)  # (n >= 2 >= start)
            keep(start, stop, step)
            plan.layout.append(slice_len(start, stop, step))
            plan.numpy_key.append(slice(start, stop, step))
            src += 1
            pos += 1
        elif isinstance(it, int) or (isinstance(it, Tensor) and it.ndim == 0 and select_0d
                                     and it.dtype is not dtypes.bool_ and it._data is not None):
            i = int(it)
            n = x.shape[src]
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {pos} with size {n}")
            i %= n
            keep(i, i + 1, 1)
            plan.numpy_key.append(i)
            src += 1
            pos += 1
        elif it.dtype is not dtypes.bool_:  # an integer tensor
            keep(0, x.shape[src], 1)
            plan.layout.append(x.shape[src])
            target = plan.selects if it.ndim == 0 and select_0d else plan.advanced
            target.append((len(plan.layout) - 1, it))
            plan.basic_only = False
            plan.int_tensor = True
            src += 1
            pos += 1
        else:  # a boolean mask over the next it.ndim dims
            plan.basic_only = False
            current = plan.layout + list(x.shape[src:])
            at = len(plan.layout)
            for j, s in enumerate(it.shape):
                if s != current[at + j]:
                    raise IndexError(
                        f"The shape of the mask {list(it.shape)} at index {j} does not match the "
                        f"shape of the indexed tensor {current} at index {at + j}")
            if it._data is None:
                raise trace_error(_MASK_HINT)
            if it.ndim == 0:
                plan.layout.append(1)
                plan.advanced.append((at, _index_tensor([0] if it._values_or_none() else [])))
                continue
            for j, idx in enumerate(np.nonzero(it._values_or_none())):
                keep(0, x.shape[src], 1)
                plan.layout.append(x.shape[src])
                plan.advanced.append((at + j, _index_tensor(idx.astype(np.int64))))
                src += 1
                pos += 1
    for d in range(src, x.ndim):  # dims no index reached
        keep(0, x.shape[d], 1)
        plan.layout.append(x.shape[d])
    if x._data is not None and x.is_cuda:  # index tensors join x on its GPU, as torch's do
        plan.advanced = [(d, on_device_of(i, x)) for d, i in plan.advanced]
        plan.selects = [(d, on_device_of(i, x)) for d, i in plan.selects]
    return plan


def getitem(x: Any, index: Any) -> Any:
    """x[index], as torch does it (see the module docstring)."""
    plan = parse(x, index)
    y = x
    full = all(s == 0 and e == n and k == 1
               for s, e, k, n in zip(plan.starts, plan.stops, plan.steps, x.shape))
    if not full:
        y = bind("slice", [y], {"starts": tuple(plan.starts), "stops": tuple(plan.stops),
                                "steps": tuple(plan.steps)}, grad_name="SliceBackward0")
    layout = tuple(plan.layout)
    if layout != tuple(y.shape) or y is x:  # x[...] is still a new tensor (a view)
        name = "AliasBackward0" if layout == tuple(y.shape) else (
            "UnsqueezeBackward0" if len(layout) > y.ndim else "SelectBackward0")
        y = bind("reshape", [y], {"shape": layout}, grad_name=name)
    advanced = list(plan.advanced)
    for d, idx in sorted(plan.selects, key=lambda s: -s[0]):  # symbolic x[t] with 0-d t
        y = bind("index", [y, idx], {"dims": (d,)}, grad_name="SelectBackward0")
        advanced = [(a - (a > d), i) for a, i in advanced]
    if not advanced:
        return y
    dims = tuple(d for d, _ in advanced)
    idxs = [i for _, i in advanced]
    for k, (d, i) in enumerate(advanced):
        _check_bounds(i, y.shape[d], k)
    index_shape(tuple(y.shape), dims, [tuple(i.shape) for i in idxs])  # broadcast errors
    return bind("index", [y, *idxs], {"dims": dims}, grad_name="IndexBackward0")


def _stripped(v: Any, ndim: int) -> Any:
    """torch drops a value's leading 1-dims before broadcasting it into x[index]."""
    while v.ndim > ndim and v.shape[0] == 1:
        v = v[0] if isinstance(v, np.ndarray) else bind(
            "reshape", [v], {"shape": tuple(v.shape[1:])})
    return v


def _mismatch(v_shape: Any, target: Any) -> RuntimeError:
    return RuntimeError(f"shape mismatch: value tensor of shape {list(v_shape)} cannot be "
                        f"broadcast to indexing result of shape {list(target)}")


def _check_value(x: Any, plan: Plan, value: Any) -> None:
    """torch's index_put_ wants value's dtype (views and one-element values through masks
    are cast); a list is no value."""
    if isinstance(value, list):
        raise TypeError(f"can't assign a list to a {x.type()}")
    if not isinstance(value, _tensor_cls()) or value.dtype is x.dtype or plan.basic_only:
        return
    if plan.int_tensor or value.numel() != 1:
        name = _torch_type_name
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{name(x.dtype)} for the destination and {name(value.dtype)} for the "
                           "source.")


def assign(x: Any, index: Any, value: Any) -> Any:
    """x with x[index] = value, out of place, in differentiable IR ops: the chain of
    getitem (slice, reshape, select, index) run backwards with slice_scatter/index_put."""
    from .. import functional as F

    Tensor = _tensor_cls()
    plan = parse(x, index)
    if isinstance(value, (bool, int, float)):
        v: Any = Literal(bool(value) if x.dtype is dtypes.bool_ else (
            float(value) if x.dtype.is_floating_point else int(value)), x.dtype)
    else:
        v = F.cast(value if isinstance(value, Tensor) else _index_tensor_any(value), x.dtype)
    key = {"starts": tuple(plan.starts), "stops": tuple(plan.stops), "steps": tuple(plan.steps)}
    full = all(st == 0 and e == n and k == 1
               for st, e, k, n in zip(plan.starts, plan.stops, plan.steps, x.shape))
    y0 = x if full else bind("slice", [x], key)
    y = y1 = y0 if tuple(plan.layout) == tuple(y0.shape) else bind(
        "reshape", [y0], {"shape": tuple(plan.layout)})
    chain, advanced = [], list(plan.advanced)
    for d, idx in sorted(plan.selects, key=lambda p: -p[0]):
        chain.append((y, d, idx))
        y = bind("index", [y, idx], {"dims": (d,)})
        advanced = [(a - (a > d), i) for a, i in advanced]
    if advanced:
        dims = tuple(d for d, _ in advanced)
        idxs = [i for _, i in advanced]
        target = index_shape(tuple(y.shape), dims, [tuple(i.shape) for i in idxs])
    else:
        target = tuple(y.shape)
    if isinstance(v, Tensor):
        v = _stripped(v, len(target))
        if tuple(np.broadcast_shapes(tuple(v.shape), target)) != target:
            raise _mismatch(v.shape, target)
    if advanced:
        new = bind("index_put", [y, v, *idxs], {"dims": dims, "accumulate": False})
    elif isinstance(v, Tensor):
        new = v if tuple(v.shape) == target else F.broadcast_to(v, target)
    else:
        new = on_device_of(bind("full", [], {"shape": target, "value": v.value, "dtype": x.dtype}), x)
    for prev, d, idx in reversed(chain):
        new = bind("index_put", [prev, new, idx], {"dims": (d,), "accumulate": False})
    if y1 is not y0:
        new = bind("reshape", [new], {"shape": tuple(y0.shape)})
    return new if full else bind("slice_scatter", [x, new], key)


def setitem(x: Any, index: Any, value: Any) -> None:
    """x[index] = value. Eagerly NumPy writes into x's array (views see it); while
    tracing, x is rebound to `assign(x, index, value)` (see Tensor._inplace)."""
    Tensor = _tensor_cls()
    if current_trace() is not None:
        _check_value(x, parse(x, index), value)
        x._inplace(lambda: assign(x, index, value))
        return
    plan = parse(x, index)
    _check_value(x, plan, value)
    if autograd.is_grad_enabled():
        if x.requires_grad and x.is_leaf:
            view = plan.basic_only and any(
                k is not None and k != slice(None) for k in plan.numpy_key)
            raise RuntimeError(("a view of a " if view else "a ") + "leaf Variable that "
                               "requires grad is being used in an in-place operation.")
        if x.requires_grad or (isinstance(value, Tensor) and value.requires_grad):
            raise RuntimeError(
                "x[...] = value on a tensor that is part of an autograd graph is not supported "
                "eagerly yet; compute it out of place (tt.where, index_put, scatter), under "
                "tt.no_grad(), or inside tt.compile, which supports it")
    if not isinstance(x._data, np.ndarray):
        # a GPU tensor: the new value through the index ops' kernels, written into x's
        # memory (so views of x see it, as NumPy's in-place write does on the CPU)
        from ..runtime import arrays

        if isinstance(value, Tensor) and not value.is_cuda and value.ndim:
            value = value.to(x.device)
        with autograd.no_grad():
            new = assign(x, index, value)
        arrays.copy_into(x._data, new._data)
        autograd.bump_version(x)
        return
    v = np.asarray(value._data if isinstance(value, Tensor) else value).astype(x.dtype.name)
    if plan.basic_only:
        key: Any = tuple(plan.numpy_key)
        target_shape = np.empty(x.shape, dtype=bool)[key].shape
    else:  # where torch's layout differs from NumPy's: flat positions through getitem
        with autograd.no_grad():
            positions = getitem(Tensor._wrap(np.arange(x.numel()).reshape(tuple(x.shape))), index)
        key = positions._data
        target_shape = key.shape
    v = _stripped(v, len(target_shape))
    try:
        v = np.broadcast_to(v, target_shape)
    except ValueError:
        raise _mismatch(v.shape, target_shape) from None
    if not x._data.flags.writeable:
        x._data = np.array(x._data)
    if plan.basic_only:
        x._data[key] = v
    else:
        x._data.flat[key.reshape(-1)] = v.reshape(-1)
    autograd.bump_version(x)  # a tensor saved for backward and then written is an error
