"""Ops of the indexing family (see core.py for the conventions: one OpDef per op).

    index        x[:, i0, i1]: NumPy/torch advanced indexing by int tensors at `dims`
    index_put    x with x[:, i0, i1] = v (or += v when `accumulate`), out of place
    gather       np.take_along_axis; index and x have the same shape off `dim`
    scatter      np.put_along_axis, out of place (src a tensor or a literal)
    scatter_add  np.add.at along `dim`, out of place

Each VJP is written in these same ops (index <-> index_put, gather <-> scatter_add), so
gradients of gradients work. NumPy's in-place functions run on a copy: emitters never
mutate their inputs (`updated_copy`).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..builder import Builder
from ..graph import Atom, Eqn, Literal, TensorType
from ..opdef import OpDef, register
from ..shapes import DimIndexError, ShapeError, broadcast_shapes


def updated_copy(stmt: str, base: str, *args: str) -> str:
    """An expression running NumPy's in-place `stmt` on a copy of `base`, then giving
    the copy. `stmt` names the copy `o` and the other operands `a0, a1, ...` (lambda
    parameters, so a value named like them in the caller cannot be confused)."""
    params = ", ".join(["o"] + [f"a{i}" for i in range(len(args))])
    return f"(lambda {params}: ({stmt}, o)[1])({', '.join([f'np.array({base})', *args])})"


def _is_int(t: TensorType) -> bool:
    return t.dtype.category == 1


# ---------------------------------------------------------------- index / index_put


def index_shape(x: Sequence[int], dims: Sequence[int],
                idx: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The shape of x[..., i0, ..., i1, ...] with int index tensors at `dims` (sorted):
    their broadcast shape replaces the indexed dims in place when those are adjacent,
    else it goes first (NumPy's and torch's rule)."""
    try:
        b = broadcast_shapes(*[tuple(s) for s in idx])
    except ShapeError:
        shapes = ", ".join(str(list(s)) for s in idx)
        raise IndexError(
            f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}"
        ) from None
    rest = [s for i, s in enumerate(x) if i not in dims]
    if list(dims) == list(range(dims[0], dims[0] + len(dims))):
        return tuple(x[: dims[0]]) + b + tuple(x[dims[-1] + 1 :])
    return b + tuple(rest)


def _index_key(args: Sequence[str], dims: Sequence[int]) -> str:
    parts = [":"] * (max(dims) + 1)
    for d, a in zip(dims, args):
        parts[d] = a
    return ", ".join(parts)


def _index_expr(args: Sequence[str], dims: Sequence[int]) -> str:
    # np.s_ rather than slice(None): generated code may name a value `slice`
    return f"np.s_[{_index_key(args, dims)}]"


def _infer_index(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, *idx = types
    dims = tuple(a["dims"])
    if len(dims) != len(idx) or not idx or list(dims) != sorted(set(dims)) or dims[-1] >= x.ndim:
        raise ShapeError(f"index: dims {dims} do not fit {len(idx)} indices into a "
                         f"{x.ndim}-d tensor")
    for t in idx:
        if not _is_int(t):
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return (TensorType(index_shape(x.shape, dims, [t.shape for t in idx]), x.dtype),)


def _vjp_index(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, *idx = eqn.inputs
    zeros = b.emit("full", [], shape=x.shape, value=0, dtype=ct.dtype)
    g = b.emit("index_put", [zeros, ct, *idx], dims=eqn.params["dims"], accumulate=True)
    return [g] + [None] * len(idx)


def _emit_index(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    return f"{args[0]}[{_index_key(args[1:], a['dims'])}]"


register(OpDef("index", "select", _infer_index, vjp=_vjp_index, torch_name="Index",
               emit={"numpy": _emit_index}))


def _infer_index_put(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, v, *idx = types
    shape = _infer_index([x, *idx], a)[0].shape
    if broadcast_shapes(shape, v.shape) != shape:
        raise ShapeError(
            f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
            f"indexing result of shape {list(shape)}"
        )
    return (x,)


def _vjp_index_put(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, v, *idx = eqn.inputs
    dims = eqn.params["dims"]
    gx = ct if eqn.params["accumulate"] else b.emit(
        "index_put", [ct, Literal(0, ct.dtype), *idx], dims=dims, accumulate=False)
    gv = b.emit("index", [ct, *idx], dims=dims)  # the driver sums it to v's shape
    return [gx, gv] + [None] * len(idx)


def _emit_index_put(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    n = len(args) - 2
    key = _index_expr([f"a{i + 1}" for i in range(n)], a["dims"])
    stmt = f"np.add.at(o, {key}, a0)" if a["accumulate"] else f"o.__setitem__({key}, a0)"
    return updated_copy(stmt, args[0], *args[1:])


register(OpDef("index_put", "select", _infer_index_put, vjp=_vjp_index_put,
               torch_name="IndexPut", emit={"numpy": _emit_index_put}))


# ---------------------------------------------------------------- gather / scatter


def _check_along(x: TensorType, idx: TensorType, dim: int, what: str) -> None:
    """torch's rule: index has x's rank and is no larger than x off `dim`."""
    if not _is_int(idx):
        raise ShapeError(f"{what}(): Expected dtype int64 for index")
    if idx.ndim != x.ndim or x.ndim == 0:
        raise ShapeError("Index tensor must have the same number of dimensions as input tensor")
    if not 0 <= dim < x.ndim:
        raise DimIndexError(f"{what}: dim {dim} out of range for a {x.ndim}-d tensor")
    for d, (s, i) in enumerate(zip(x.shape, idx.shape)):
        if d != dim and i > s:
            raise ShapeError(f"Size does not match at dimension {d} expected index "
                             f"{list(idx.shape)} to be no larger than self {list(x.shape)} "
                             f"apart from dimension {dim}")


def along_key(shape: Sequence[int], dim: int, idx: str) -> str:
    """The NumPy index tuple take_along_axis builds, over the index's `shape`: aranges
    off `dim` (broadcasting against each other), the index itself on it."""
    parts = []
    for d, n in enumerate(shape):
        if d == dim:
            parts.append(idx)
        else:
            view = ", ".join(str(n) if e == d else "1" for e in range(len(shape)))
            parts.append(f"np.arange({n}).reshape({view}{',' if len(shape) == 1 else ''})")
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _infer_gather(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, idx = types
    _check_along(x, idx, a["dim"], "gather")
    return (TensorType(idx.shape, x.dtype),)


def _vjp_gather(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, idx = eqn.inputs
    zeros = b.emit("full", [], shape=x.shape, value=0, dtype=ct.dtype)
    return [b.emit("scatter_add", [zeros, idx, ct], dim=eqn.params["dim"]), None]


def _emit_gather(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    x, idx = in_types
    dim = a["dim"]
    if all(s == i for d, (s, i) in enumerate(zip(x.shape, idx.shape)) if d != dim):
        return f"np.take_along_axis({args[0]}, {args[1]}, axis={dim})"
    return f"{args[0]}[{along_key(idx.shape, dim, args[1])}]"


register(OpDef("gather", "select", _infer_gather, vjp=_vjp_gather, torch_name="Gather",
               emit={"numpy": _emit_gather}))


def _infer_scatter(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, idx, src = types
    _check_along(x, idx, a["dim"], "scatter")
    if src.ndim and src.shape != idx.shape:
        raise ShapeError(f"scatter: src {list(src.shape)} must have the index's shape "
                         f"{list(idx.shape)} (the front end cuts it down)")
    if src.dtype is not x.dtype:
        raise ShapeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return (x,)


def _vjp_scatter(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, idx, src = eqn.inputs
    dim = eqn.params["dim"]
    gx = b.emit("scatter", [ct, idx, Literal(0, ct.dtype)], dim=dim)
    gs = b.emit("gather", [ct, idx], dim=dim) if src.ndim else None
    return [gx, None, gs]


def _emit_scatter(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    key = along_key(in_types[1].shape, a["dim"], "a0")
    return updated_copy(f"o.__setitem__({key}, a1)", *args)


register(OpDef("scatter", "select", _infer_scatter, vjp=_vjp_scatter, torch_name="Scatter",
               emit={"numpy": _emit_scatter}))


def _vjp_scatter_add(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, idx, src = eqn.inputs
    gs = b.emit("gather", [ct, idx], dim=eqn.params["dim"]) if src.ndim else None
    return [ct, None, gs]


def _emit_scatter_add(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    key = along_key(in_types[1].shape, a["dim"], "a0")
    return updated_copy(f"np.add.at(o, {key}, a1)", *args)


register(OpDef("scatter_add", "select", _infer_scatter, vjp=_vjp_scatter_add,
               torch_name="ScatterAdd", emit={"numpy": _emit_scatter_add}))

__all__ = ["updated_copy", "index_shape", "along_key"]
