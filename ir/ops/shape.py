"""Ops of the shape family (see core.py for the conventions: one OpDef per op).

    concat         np.concatenate along `dim` (1-d empty inputs are skipped, as torch does)
    slice          x[a:b:k, ...] with normalized starts/stops and positive steps per dim
    pad            zero padding (the VJP of a step-1 slice)
    slice_scatter  x with x[a:b:k, ...] = src, out of place (the VJP of a strided slice)
    flip, roll     np.flip / np.roll
    tri            np.tril / np.triu on the last two dims

The front end (torchtrek/ops/shape.py) composes the rest (stack, split, repeat, ...).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..builder import Builder
from ..graph import Atom, Eqn, TensorType
from ..opdef import OpDef, register
from ..shapes import ShapeError
from .indexing import updated_copy
from ..symdims import is_symbolic, le


def is_skipped_in_cat(t: TensorType) -> bool:
    """torch.cat's legacy rule: 1-d empty tensors are ignored (their shape is free)."""
    return t.shape == (0,)


# ---------------------------------------------------------------- concat


def _infer_concat(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    dim = a["dim"]
    kept = [(i, t) for i, t in enumerate(types) if not is_skipped_in_cat(t)]
    if not kept:
        return (TensorType((0,), types[0].dtype),)
    i0, first = kept[0]
    if first.ndim == 0:
        raise ShapeError(f"zero-dimensional tensor (at position {i0}) cannot be concatenated")
    total = 0
    for i, t in kept:
        if t.dtype is not first.dtype:
            raise ShapeError(f"concat: inputs have dtypes {first.dtype.name} and {t.dtype.name} "
                             "(the front end promotes them)")
        if t.ndim != first.ndim:
            raise ShapeError(f"Tensors must have same number of dimensions: got {first.ndim} "
                             f"and {t.ndim}")
        for d, (s, u) in enumerate(zip(first.shape, t.shape)):
            if d != dim and s != u:
                raise ShapeError(
                    f"Sizes of tensors must match except in dimension {dim}. Expected size {s} "
                    f"but got size {u} for tensor number {i} in the list."
                )
        total += t.shape[dim]
    shape = first.shape[:dim] + (total,) + first.shape[dim + 1:]
    return (TensorType(shape, first.dtype),)


def _vjp_concat(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    dim = eqn.params["dim"]
    grads: list[Atom | None] = []
    offset = 0
    for x in eqn.inputs:
        if is_skipped_in_cat(x.type) and ct.shape != (0,):
            grads.append(b.emit("full", [], shape=(0,), value=0, dtype=ct.dtype))
            continue
        n = x.shape[dim]
        starts = tuple(offset if d == dim else 0 for d in range(ct.ndim))
        stops = tuple(offset + n if d == dim else s for d, s in enumerate(ct.shape))
        grads.append(b.emit("slice", [ct], starts=starts, stops=stops, steps=(1,) * ct.ndim))
        offset += n
    return grads


def _emit_concat(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    kept = [x for x, t in zip(args, in_types) if not is_skipped_in_cat(t)] or args
    items = ", ".join(kept) + ("," if len(kept) == 1 else "")
    return f"np.concatenate(({items}), axis={a['dim']})"


register(OpDef("concat", "movement", _infer_concat, vjp=_vjp_concat, torch_name="Cat",
               emit={"numpy": _emit_concat}))


# ---------------------------------------------------------------- slice and its inverses


def slice_len(start: int, stop: int, step: int) -> int:
    if step == 1 and is_symbolic(stop - start):
        return stop - start  # (slices of symbolic sizes are made only where this is >= 0)
    return max(0, (stop - start + step - 1) // step)


def _check_slices(t: TensorType, a: dict[str, Any]) -> tuple[int, ...]:
    starts, stops, steps = a["starts"], a["stops"], a["steps"]
    if not len(starts) == len(stops) == len(steps) == t.ndim:
        raise ShapeError(f"slice: {len(starts)} slices for a {t.ndim}-d tensor")
    for s, e, k, n in zip(starts, stops, steps, t.shape):
        if not (le(0, s) and le(s, n) and le(s, e) and le(e, n) and k >= 1):
            raise ShapeError(f"slice: {s}:{e}:{k} is not a normalized slice of a dim of size {n}")
    return tuple(slice_len(s, e, k) for s, e, k in zip(starts, stops, steps))


def slice_text(start: int, stop: int, step: int, size: int) -> str:
    """`a:b:k` with the defaults left out (`:` for the whole dim)."""
    text = (str(start) if start else "") + ":" + (str(stop) if stop != size else "")
    return text + (f":{step}" if step != 1 else "")


def _slices_text(shape: Sequence[int], a: dict[str, Any]) -> str:
    parts = [slice_text(s, e, k, n)
             for s, e, k, n in zip(a["starts"], a["stops"], a["steps"], shape)]
    while parts and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts) or "..."


def _vjp_slice(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    (x,) = eqn.inputs
    p = eqn.params
    if all(k == 1 for k in p["steps"]):
        widths = tuple((s, n - s - m) for s, n, m in zip(p["starts"], x.shape, ct.shape))
        return [b.emit("pad", [ct], widths=widths)]
    zeros = b.emit("full", [], shape=x.shape, value=0, dtype=ct.dtype)
    return [b.emit("slice_scatter", [zeros, ct], starts=p["starts"], stops=p["stops"],
                   steps=p["steps"])]


register(OpDef(
    "slice", "movement",
    lambda types, a: (TensorType(_check_slices(types[0], a), types[0].dtype),),
    vjp=_vjp_slice, torch_name="Slice",
    emit={"numpy": lambda args, a, ins, out: f"{args[0]}[{_slices_text(ins[0].shape, a)}]"},
))


def _infer_pad(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    widths = a["widths"]
    if len(widths) != t.ndim or any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ShapeError(f"pad: widths {widths} do not fit a {t.ndim}-d tensor")
    return (TensorType(tuple(n + lo + hi for n, (lo, hi) in zip(t.shape, widths)), t.dtype),)


def _vjp_pad(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    (x,) = eqn.inputs
    widths = eqn.params["widths"]
    starts = tuple(lo for lo, _ in widths)
    stops = tuple(lo + n for (lo, _), n in zip(widths, x.shape))
    return [b.emit("slice", [ct], starts=starts, stops=stops, steps=(1,) * x.ndim)]


def _emit_pad(args: list[str], a: dict[str, Any], ins: Sequence[TensorType], out: TensorType) -> str:
    # zeros with the operand written in (np.pad's generic path costs 2.5x: 43 vs 17 us for
    # a split's (8, 64, 128) gradient in a (8, 64, 384) tensor)
    if not out.shape or not all(type(n) is int for n in out.shape + ins[0].shape):
        return f"np.pad({args[0]}, {a['widths']})"  # (0-d, or sizes that are symbols)
    where = ", ".join(f"{lo}:{lo + n}" if (lo, hi) != (0, 0) else ":"
                      for (lo, hi), n in zip(a["widths"], ins[0].shape))
    return (f"(lambda _z: (_z.__setitem__(np.s_[{where}], {args[0]}), _z)[1])"
            f"(np.zeros({out.shape}, dtype=np.{out.dtype.name}))")


register(OpDef("pad", "movement", _infer_pad, vjp=_vjp_pad, torch_name="ConstantPadNd",
               emit={"numpy": _emit_pad}))


def _infer_slice_scatter(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, src = types
    shape = _check_slices(x, a)
    if src.shape != shape or src.dtype is not x.dtype:
        raise ShapeError(f"slice_scatter: src {src} does not fit the slice's type "
                         f"{TensorType(shape, x.dtype)}")
    return (x,)


def _vjp_slice_scatter(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, src = eqn.inputs
    p = dict(eqn.params)
    zeros = b.emit("full", [], shape=src.shape, value=0, dtype=ct.dtype)
    return [b.emit("slice_scatter", [ct, zeros], **p), b.emit("slice", [ct], **p)]


def _emit_slice_scatter(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    key = _slices_text(in_types[0].shape, a)
    return updated_copy(f"o.__setitem__(np.s_[{key}], a0)", *args)


register(OpDef("slice_scatter", "movement", _infer_slice_scatter, vjp=_vjp_slice_scatter,
               torch_name="SliceScatter", emit={"numpy": _emit_slice_scatter}))


# ---------------------------------------------------------------- flip, roll, tril/triu


def _same(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    return (types[0],)


register(OpDef("flip", "movement", _same, torch_name="Flip",
               vjp=lambda b, e, ct: [b.emit("flip", [ct], dims=e.params["dims"])],
               emit={"numpy": "np.flip({0}, axis={dims})"}))


def _vjp_roll(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    shifts = tuple(-s for s in eqn.params["shifts"])
    return [b.emit("roll", [ct], shifts=shifts, dims=eqn.params["dims"])]


register(OpDef("roll", "movement", _same, vjp=_vjp_roll, torch_name="Roll",
               emit={"numpy": "np.roll({0}, {shifts}, axis={dims})"}))


def _infer_tri(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    if types[0].ndim < 2:
        name = "triu" if a["upper"] else "tril"
        raise ShapeError(f"{name}: input tensor must have at least 2 dimensions")
    return (types[0],)


def _emit_tri(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    return f"np.{'triu' if a['upper'] else 'tril'}({args[0]}, k={a['k']})"


register(OpDef("tri", "select", _infer_tri, torch_name="Tril",
               vjp=lambda b, e, ct: [b.emit("tri", [ct], **e.params)],
               emit={"numpy": _emit_tri}))

__all__ = ["is_skipped_in_cat", "slice_len", "slice_text"]
