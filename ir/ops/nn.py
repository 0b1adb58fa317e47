"""Neural-network ops that need kernels of their own: 2-D convolution, the sliding-window
pair behind pooling (unfold2d / fold2d), embedding lookup, binary cross-entropy on
probabilities (torch's clamped logs and gradient) and the uniform random source of
dropout.

Padding is always four numbers, (top, bottom, left, right), so 'same' padding with even
kernels and ceil_mode pooling (extra rows at the bottom) need no special cases here.
Every VJP is written with differentiable IR ops (conv2d's uses unfold2d, fold2d and
matmul; unfold2d and fold2d are each other's adjoints), so higher derivatives work.
"""

from __future__ import annotations

from typing import Any, Sequence

import sympy

from .. import dtypes
from ..builder import Builder
from ..graph import Atom, Eqn, Literal, TensorType
from ..opdef import OpDef, register
from ..shapes import ShapeError
from .core import infer_pointwise

# ---------------------------------------------------------------- window geometry


def out_size(size: int, k: int, s: int, lo: int, hi: int, d: int) -> int:
    """Number of window positions along one spatial dim."""
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def _geometry(shape: tuple[int, ...], a: dict[str, Any]) -> tuple[int, int, int, int]:
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = (
        a["kernel"], a["stride"], a["padding"], a["dilation"])
    oh = out_size(shape[-2], kh, sh, pt, pb, dh)
    ow = out_size(shape[-1], kw, sw, pl, pr, dw)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"Given input size: ({shape[1]}x{shape[2]}x{shape[3]}). Calculated output size: "
            f"({shape[1]}x{max(oh, 0)}x{max(ow, 0)}). Output size is too small")
    return oh, ow, shape[-2] + pt + pb, shape[-1] + pl + pr


def _pad_value(pad: str, dtype: dtypes.DType) -> str:
    """Source for the padding value: "zeros", or "lowest" (max pooling: -inf, or the
    integer dtype's minimum)."""
    if pad == "zeros":
        return "0"
    return "-np.inf" if dtype.is_floating_point else f"np.iinfo(np.{dtype.name}).min"


def _windows(x: str, a: dict[str, Any], dtype: dtypes.DType) -> str:
    """NumPy source for the (N, C, OH, OW, kh, kw) window view of padded `x`."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = (
        a["kernel"], a["stride"], a["padding"], a["dilation"])
    if any(a["padding"]):
        x = (f"np.pad({x}, ((0, 0), (0, 0), ({pt}, {pb}), ({pl}, {pr})), "
             f"constant_values={_pad_value(a.get('pad', 'zeros'), dtype)})")
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    view = f"np.lib.stride_tricks.sliding_window_view({x}, ({eh}, {ew}), axis=(2, 3))"
    steps = [f"::{s}" if s != 1 else ":" for s in (sh, sw, dh, dw)]
    return view if steps == [":"] * 4 else f"{view}[:, :, {', '.join(steps)}]"


def _check_4d(t: TensorType, what: str) -> None:
    if t.ndim != 4:
        raise ShapeError(f"{what}: expected a 4-D (N, C, H, W) input, got {list(t.shape)}")


# ---------------------------------------------------------------- unfold2d / fold2d


def _infer_unfold(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (x,) = types
    _check_4d(x, "unfold2d")
    oh, ow, _, _ = _geometry(x.shape, a)
    return (TensorType(x.shape[:2] + (oh, ow) + tuple(a["kernel"]), x.dtype),)


def _window_attrs(a: dict[str, Any]) -> dict[str, Any]:
    return {k: a[k] for k in ("kernel", "stride", "padding", "dilation")}


def _vjp_unfold(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x = eqn.inputs[0]
    return [b.emit("fold2d", [ct], input_shape=x.shape, **_window_attrs(eqn.params))]


register(OpDef("unfold2d", "movement", _infer_unfold, vjp=_vjp_unfold, torch_name="Im2Col",
               emit={"numpy": lambda args, a, ins, out: _windows(args[0], a, out.dtype)}))


def _infer_fold(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (g,) = types
    shape = tuple(a["input_shape"])
    want = _infer_unfold([TensorType(shape, g.dtype)], a)[0]
    if want.shape != g.shape:
        raise ShapeError(f"fold2d: expected windows of shape {list(want.shape)}, got {list(g.shape)}")
    return (TensorType(shape, g.dtype),)


def _emit_fold(args: list[str], a: dict[str, Any], ins: Sequence[TensorType], out: TensorType) -> str:
    n, c, h, w = a["input_shape"]
    oh, ow, hp, wp = _geometry((n, c, h, w), a)
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw) = (
        a["kernel"], a["stride"], a["padding"], a["dilation"])
    lh, lw = (oh - 1) * sh + 1, (ow - 1) * sw + 1
    # Tap (i, j) of every window adds into the strided slice of the padded input it was
    # read from; np.add(..., out=) on slices of one zero buffer accumulates the overlaps.
    # The taps are listed, not looped over with range(): the generated function's own
    # values may be named like Python builtins ("sum").
    taps = ", ".join(f"({i}, {j}, {i * dh}, {j * dw})" for i in range(kh) for j in range(kw))
    dst = f"_z[:, :, _y:_y + {lh}:{sh}, _x:_x + {lw}:{sw}]"
    adds = (f"[np.add({dst}, {args[0]}[:, :, :, :, _i, _j], out={dst}) "
            f"for _i, _j, _y, _x in ({taps},)]")
    buf = f"np.zeros({(n, c, hp, wp)}, dtype=np.{out.dtype.name})"
    return f"(lambda _z: ({adds}, _z)[1])({buf})[:, :, {pt}:{pt + h}, {pl}:{pl + w}]"


def _vjp_fold(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    return [b.emit("unfold2d", [ct], pad="zeros", **_window_attrs(eqn.params))]


register(OpDef("fold2d", "reduce", _infer_fold, vjp=_vjp_fold, torch_name="Col2Im",
               emit={"numpy": _emit_fold}))


# ---------------------------------------------------------------- conv2d


def _infer_conv(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, w = types
    g = a["groups"]
    if x.dtype is not w.dtype:
        raise ShapeError(f"expected scalar type {_c_name(x.dtype)} but found {_c_name(w.dtype)}")
    if w.shape[0] % g:
        raise ShapeError(
            f"Given groups={g}, expected weight to be divisible by {g} at dimension 0, but got "
            f"weight of size [{list(w.shape)}] instead")
    if x.shape[1] != w.shape[1] * g:
        raise ShapeError(
            f"Given groups={g}, weight of size {list(w.shape)}, expected input{list(x.shape)} to "
            f"have {w.shape[1] * g} channels, but got {x.shape[1]} channels instead")
    (kh, kw), (pt, pb, pl, pr), (dh, dw) = w.shape[2:], a["padding"], a["dilation"]
    hp, wp = x.shape[2] + pt + pb, x.shape[3] + pl + pr
    if hp < dh * (kh - 1) + 1 or wp < dw * (kw - 1) + 1:
        raise ShapeError(
            f"Calculated padded input size per channel: ({hp} x {wp}). Kernel size: "
            f"({dh * (kh - 1) + 1} x {dw * (kw - 1) + 1}). Kernel size can't be greater than "
            f"actual input size")
    oh, ow, _, _ = _geometry(x.shape, {**a, "kernel": (kh, kw)})
    return (TensorType((x.shape[0], w.shape[0], oh, ow), x.dtype),)


def _c_name(d: dtypes.DType) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int"}.get(d.name, d.name)


def _emit_conv(args: list[str], a: dict[str, Any], ins: Sequence[TensorType], out: TensorType) -> str:
    x, w = ins
    n, o, oh, ow = out.shape
    g, (kh, kw) = a["groups"], w.shape[2:]
    win = _windows(args[0], {**a, "kernel": (kh, kw)}, out.dtype)
    if g == 1:
        return f"np.einsum('nchwij,ocij->nohw', {win}, {args[1]}, optimize=True)"
    cg = x.shape[1] // g
    return (f"np.einsum('ngchwij,gocij->ngohw', {win}.reshape({(n, g, cg, oh, ow, kh, kw)}), "
            f"{args[1]}.reshape({(g, o // g, cg, kh, kw)}), optimize=True).reshape({out.shape})")


def _vjp_conv(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    """im2col algebra: windows(x) . w over (c, i, j) is the forward; its two adjoints are
    matmuls against the windows (weight) and a fold of ct . w (input)."""
    x, w = eqn.inputs
    a = eqn.params
    g = a["groups"]
    n, c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    _, _, oh, ow = ct.shape
    og, kk, L = o // g, cg * kh * kw, oh * ow
    win_attrs = {"kernel": (kh, kw), "stride": a["stride"], "padding": a["padding"],
                 "dilation": a["dilation"]}
    # ct as (G, Og, N*L) and (N, G, L, Og)
    ct4 = b.emit("reshape", [ct], shape=(n, g, og, L))
    grads: list[Atom | None] = [None, None]
    if x.dtype.is_floating_point:
        ct_t = b.emit("permute", [ct4], perm=(0, 1, 3, 2))  # N, G, L, Og
        wg = b.emit("reshape", [w], shape=(g, og, kk))
        cols = b.emit("matmul", [ct_t, wg])  # N, G, L, Cg*kh*kw
        cols = b.emit("reshape", [cols], shape=(n, g, oh, ow, cg, kh, kw))
        cols = b.emit("permute", [cols], perm=(0, 1, 4, 2, 3, 5, 6))
        cols = b.emit("reshape", [cols], shape=(n, c, oh, ow, kh, kw))
        grads[0] = b.emit("fold2d", [cols], input_shape=x.shape, **win_attrs)
    if w.dtype.is_floating_point:
        win = b.emit("unfold2d", [x], pad="zeros", **win_attrs)  # N, C, OH, OW, kh, kw
        win = b.emit("reshape", [win], shape=(n, g, cg, oh, ow, kh, kw))
        win = b.emit("permute", [win], perm=(1, 0, 3, 4, 2, 5, 6))  # G, N, OH, OW, Cg, kh, kw
        win = b.emit("reshape", [win], shape=(g, n * L, kk))
        ctg = b.emit("permute", [ct4], perm=(1, 2, 0, 3))  # G, Og, N, L
        ctg = b.emit("reshape", [ctg], shape=(g, og, n * L))
        gw = b.emit("matmul", [ctg, win])  # G, Og, Cg*kh*kw
        grads[1] = b.emit("reshape", [gw], shape=w.shape)
    return grads


register(OpDef("conv2d", "matmul", _infer_conv, vjp=_vjp_conv, torch_name="Convolution",
               emit={"numpy": _emit_conv}))


# ---------------------------------------------------------------- embedding


def _infer_embedding(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    w, idx = types
    if w.ndim != 2:
        raise ShapeError("'weight' must be 2-D")
    return (TensorType(idx.shape + w.shape[1:], w.dtype),)


def _vjp_embedding(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    w, idx = eqn.inputs
    return [b.emit("embedding_backward", [ct, idx], num_weights=w.shape[0],
                   padding_idx=eqn.params["padding_idx"]), None]


register(OpDef("embedding", "select", _infer_embedding, vjp=_vjp_embedding,
               torch_name="Embedding", emit={"numpy": "np.take({0}, {1}, axis=0)"}))


def _infer_embedding_bwd(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    ct, idx = types
    return (TensorType((a["num_weights"],) + ct.shape[idx.ndim:], ct.dtype),)


def _emit_embedding_bwd(args: list[str], a: dict[str, Any], ins, out: TensorType) -> str:
    ct, idx = args
    pad = a["padding_idx"]
    if pad is not None:  # the padding row gets no gradient, as in torch
        ct = f"np.where(({idx} == {pad})[..., None], 0, {ct})"
    # np.add.at accumulates repeated indices (a fancy-index += would keep only one)
    return (f"(lambda _g: (np.add.at(_g, {idx}, {ct}), _g)[1])"
            f"(np.zeros({out.shape}, dtype=np.{out.dtype.name}))")


def _vjp_embedding_bwd(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    _, idx = eqn.inputs
    g = b.emit("embedding", [ct, idx], padding_idx=eqn.params["padding_idx"])
    pad = eqn.params["padding_idx"]
    if pad is not None:
        hit = b.emit("reshape", [b.emit("eq", [idx, Literal(pad, idx.dtype)])],
                     shape=idx.shape + (1,))
        g = b.emit("where", [hit, Literal(0.0, g.dtype), g])
    return [g, None]


register(OpDef("embedding_backward", "select", _infer_embedding_bwd, vjp=_vjp_embedding_bwd,
               torch_name="EmbeddingBackward", emit={"numpy": _emit_embedding_bwd}))


# ---------------------------------------------------------------- binary cross-entropy

# On probabilities x and targets y. torch clamps each log at -100 and its input gradient
# divides by max(x(1 - x), 1e-12), so x = 0 or 1 gives finite values (a composition of
# log and a clamp would give nan gradients there).
_BCE_EPS = sympy.Float(9.999999960041972e-13)  # torch's 1e-12, a float32 constant

register(OpDef(
    "binary_cross_entropy", "pointwise", infer_pointwise,
    formula=lambda x, y: -(y * sympy.Max(sympy.log(x), -100)
                           + (1 - y) * sympy.Max(sympy.log(1 - x), -100)),
    grad=lambda x, y, out: [
        (x - y) / sympy.Max((1 - x) * x, _BCE_EPS),
        sympy.log(1 - x) - sympy.log(x),  # torch leaves the target's gradient unclamped
    ],
    torch_name="BinaryCrossEntropy",
))


# ---------------------------------------------------------------- random


def _emit_uniform(args: list[str], a: dict[str, Any], ins, out: TensorType) -> str:
    # NumPy's global generator (seeded by tt.manual_seed): fresh values on every run of
    # the generated code, and the export needs nothing but NumPy.
    return f"np.random.random_sample({out.shape}).astype(np.{out.dtype.name})"


# `key` tells apart the draws of one graph, so that common-subexpression elimination
# never merges two of them into one.
register(OpDef("uniform", "creation",
               lambda types, a: (TensorType(tuple(a["shape"]), a["dtype"]),),
               torch_name="Uniform", differentiable=False, emit={"numpy": _emit_uniform}))
