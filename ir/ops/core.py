"""Every op TorchTrek knows, declared once each.

Pointwise ops give a sympy formula: autodiff differentiates it, the backends print it.
Structural ops give a VJP rule in IR ops and an emitter template per backend.
Type promotion and casts happen in the front end, so pointwise ops here see operands
of one dtype (comparisons return bool).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import sympy

from .. import dtypes
from ..builder import Builder
from ..graph import Atom, Eqn, Literal, TensorType
from ..opdef import OpDef, register
from ..shapes import DimIndexError, ShapeError, broadcast_shapes

# ---------------------------------------------------------------- shape rules


def _same_dtype(types: Sequence[TensorType]) -> dtypes.DType:
    out = types[0].dtype
    for t in types[1:]:
        out = dtypes.promote_types(out, t.dtype)
    return out


def infer_pointwise(types: Sequence[TensorType], attrs: dict[str, Any]) -> tuple[TensorType, ...]:
    shape = broadcast_shapes(*(t.shape for t in types))
    return (TensorType(shape, attrs.get("dtype") or _same_dtype(types)),)


def infer_compare(types: Sequence[TensorType], attrs: dict[str, Any]) -> tuple[TensorType, ...]:
    return (TensorType(broadcast_shapes(*(t.shape for t in types)), dtypes.bool_),)


def _pointwise(name: str, formula, torch_name: str, grad=None, infer=infer_pointwise,
               differentiable: bool = True) -> None:
    register(OpDef(name, "pointwise", infer, formula=formula, grad=grad,
                   torch_name=torch_name, differentiable=differentiable))


# ---------------------------------------------------------------- pointwise ops

_pointwise("add", lambda a, b: a + b, "Add")
_pointwise("sub", lambda a, b: a - b, "Sub")
_pointwise("mul", lambda a, b: a * b, "Mul")
_pointwise("div", lambda a, b: a / b, "Div")
# sympy writes d/da a**b as b*a**b/a, which is nan at a = 0; torch's rules are these
# (the exponent's gradient is 0 where a = 0 and b >= 0).
_pointwise("pow", lambda a, b: a**b, "Pow", grad=lambda a, b, out: [
    b * a ** (b - 1),
    sympy.Piecewise((0, sympy.And(sympy.Eq(a, 0), b >= 0)), (out * sympy.log(a), True)),
])
_pointwise("neg", lambda a: -a, "Neg")
_pointwise("exp", sympy.exp, "Exp")
_pointwise("log", sympy.log, "Log")
_pointwise("sin", sympy.sin, "Sin")
_pointwise("cos", sympy.cos, "Cos")
_pointwise("tanh", sympy.tanh, "Tanh")
_pointwise("sqrt", sympy.sqrt, "Sqrt")
_pointwise("abs", sympy.Abs, "Abs")
_pointwise("relu", lambda a: sympy.Max(a, 0), "Relu")
# sympy's derivative of the logistic function overflows to nan in float32 for x << 0;
# the one written in terms of the result does not.
_pointwise("sigmoid", lambda a: 1 / (1 + sympy.exp(-a)), "Sigmoid",
           grad=lambda a, out: [out * (1 - out)])
for _name, _rel in [("gt", sympy.StrictGreaterThan), ("lt", sympy.StrictLessThan),
                    ("ge", sympy.GreaterThan), ("le", sympy.LessThan),
                    ("eq", sympy.Eq), ("ne", sympy.Ne)]:
    _pointwise(_name, _rel, _name.capitalize(), infer=infer_compare, differentiable=False)
# A fused or derived pointwise body: `expr` over x0..xn (autodiff emits these).
_pointwise("pointwise", lambda *xs, expr, dtype=None, doc=None: expr, "Pointwise")


# ---------------------------------------------------------------- cast


def _vjp_cast(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    src = eqn.inputs[0]
    return [b.emit("cast", [ct], dtype=src.dtype) if src.dtype.is_floating_point else None]


register(OpDef(
    "cast", "cast",
    lambda types, a: (TensorType(types[0].shape, a["dtype"]),),
    vjp=_vjp_cast, torch_name="ToCopy",
    emit={"numpy": "{0}.astype(np.{dtype})"},
))


# ---------------------------------------------------------------- reductions


def _infer_sum(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    dims, keep = a["dims"], a["keepdim"]
    shape = tuple(1 if i in dims else s for i, s in enumerate(t.shape) if keep or i not in dims)
    dtype = t.dtype if t.dtype.is_floating_point else dtypes.int64
    return (TensorType(shape, dtype),)


def _vjp_sum(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    (x,) = eqn.inputs
    dims, keep = eqn.params["dims"], eqn.params["keepdim"]
    if not keep:
        kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
        ct = b.emit("reshape", [ct], shape=kept)
    return [b.emit("broadcast_to", [ct], shape=x.shape)]


def _emit_sum(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    extra = "" if in_types[0].dtype is out_type.dtype else f", dtype=np.{out_type.dtype.name}"
    return f"np.sum({args[0]}, axis={a['dims']}, keepdims={a['keepdim']}{extra})"


register(OpDef("sum", "reduce", _infer_sum, vjp=_vjp_sum, torch_name="Sum",
               emit={"numpy": _emit_sum}))


def _infer_amax(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    dims, keep = a["dims"], a["keepdim"]
    for d in dims:
        if t.shape[d] == 0:
            raise DimIndexError(f"amax(): Expected reduction dim {d} to have non-zero size.")
    shape = tuple(1 if i in dims else s for i, s in enumerate(t.shape) if keep or i not in dims)
    return (TensorType(shape, t.dtype),)


def _vjp_amax(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    # torch splits the gradient evenly between tied maxima
    (x,) = eqn.inputs
    out = eqn.outputs[0]
    dims, keep = eqn.params["dims"], eqn.params["keepdim"]
    kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
    m, g = out, ct
    if not keep:
        m = b.emit("reshape", [out], shape=kept)
        g = b.emit("reshape", [ct], shape=kept)
    mask = b.emit("cast", [b.emit("eq", [x, m])], dtype=x.dtype)
    count = b.emit("sum", [mask], dims=dims, keepdim=True)
    return [b.emit("pointwise", [mask, g, count], expr=_sx[0] * _sx[1] / _sx[2], dtype=x.dtype)]


_sx = sympy.symbols("x0 x1 x2", real=True)
register(OpDef("amax", "reduce", _infer_amax, vjp=_vjp_amax, torch_name="Amax",
               emit={"numpy": "np.amax({0}, axis={dims}, keepdims={keepdim})"}))


def _infer_argmax(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    dim, keep = a["dim"], a["keepdim"]
    if dim is None:
        return (TensorType((1,) * t.ndim if keep else (), dtypes.int64),)
    shape = tuple(1 if i == dim else s for i, s in enumerate(t.shape) if keep or i != dim)
    return (TensorType(shape, dtypes.int64),)


def _emit_argmax(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    return f"np.argmax({args[0]}, axis={a['dim']}, keepdims={a['keepdim']})"


register(OpDef("argmax", "reduce", _infer_argmax, torch_name="Argmax", differentiable=False,
               emit={"numpy": _emit_argmax}))


# ---------------------------------------------------------------- movement


def _infer_reshape(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    t = types[0]
    out = TensorType(tuple(a["shape"]), t.dtype)
    if out.numel != t.numel:
        raise ShapeError(f"shape '{list(a['shape'])}' is invalid for input of size {t.numel}")
    return (out,)


register(OpDef(
    "reshape", "movement", _infer_reshape,
    vjp=lambda b, e, ct: [b.emit("reshape", [ct], shape=e.inputs[0].shape)],
    torch_name="View", emit={"numpy": "np.reshape({0}, {shape})"},
))


def _infer_permute(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    t = types[0]
    return (TensorType(tuple(t.shape[p] for p in a["perm"]), t.dtype),)


def _vjp_permute(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    perm = eqn.params["perm"]
    inverse = tuple(sorted(range(len(perm)), key=lambda i: perm[i]))
    return [b.emit("permute", [ct], perm=inverse)]


register(OpDef("permute", "movement", _infer_permute, vjp=_vjp_permute,
               torch_name="Permute", emit={"numpy": "np.transpose({0}, {perm})"}))


def _infer_broadcast(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    t, shape = types[0], tuple(a["shape"])
    if broadcast_shapes(t.shape, shape) != shape:
        raise ShapeError(
            f"The expanded size of the tensor ({shape[-1] if shape else 0}) must match the "
            f"existing size at non-singleton dimension: cannot expand {list(t.shape)} to {list(shape)}"
        )
    return (TensorType(shape, t.dtype),)


register(OpDef("broadcast_to", "movement", _infer_broadcast,
               vjp=lambda b, e, ct: [ct],  # the driver sums it back to the input shape
               torch_name="Expand", emit={"numpy": "np.broadcast_to({0}, {shape})"}))


# ---------------------------------------------------------------- matmul


def _mat_str(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _infer_matmul(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, y = types
    if x.ndim == 0 or y.ndim == 0:
        raise ShapeError(
            f"both arguments to matmul need to be at least 1D, but they are {x.ndim}D and {y.ndim}D"
        )
    if x.dtype is not y.dtype:
        raise ShapeError(
            f"expected m1 and m2 to have the same dtype, but got: {x.dtype.name} != {y.dtype.name}"
        )
    k1 = x.shape[-1]
    k2 = y.shape[-2] if y.ndim >= 2 else y.shape[0]
    if k1 != k2:
        if x.ndim == 1 and y.ndim == 1:
            raise ShapeError(
                f"inconsistent tensor size, expected tensor [{k1}] and src [{k2}] to have the "
                f"same number of elements, but got {k1} and {k2} elements respectively"
            )
        xs = x.shape if x.ndim >= 2 else (1, k1)
        ys = y.shape if y.ndim >= 2 else (k2, 1)
        raise ShapeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_mat_str(xs[-2:]) if x.ndim <= 2 else _mat_str((x.numel // k1, k1))} "
            f"and {_mat_str(ys[-2:])})"
        )
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2])
    shape = batch + (x.shape[-2:-1] if x.ndim >= 2 else ()) + (y.shape[-1:] if y.ndim >= 2 else ())
    return (TensorType(shape, x.dtype),)


def _folded_grad(b: Builder, ct2: Atom, operand2: Atom, other: Atom, left: bool) -> Atom | None:
    """A batched operand times a 2-D one (x @ W with x (..., M, K)): fold the batch dims into
    the rows, one GEMM per gradient, as torch's matmul does, instead of a batch of small
    products (and, for W, a (batch, K, N) array summed back down)."""
    batched, flat = (operand2, other) if left else (other, operand2)
    if flat.ndim != 2 or batched.ndim <= 2 or ct2.ndim != batched.ndim:
        return None
    rows = math.prod(batched.shape[:-1])
    if left:  # dx = (ct @ W^T), folded: (P, N) @ (N, K) -> (..., M, K)
        ct_f = b.emit("reshape", [ct2], shape=(rows, ct2.shape[-1]))
        w_t = b.emit("permute", [flat], perm=(1, 0))
        return b.emit("reshape", [b.emit("matmul", [ct_f, w_t])], shape=operand2.shape)
    # dW = x^T @ ct over every row: (K, P) @ (P, N)
    x_f = b.emit("reshape", [batched], shape=(rows, batched.shape[-1]))
    ct_f = b.emit("reshape", [ct2], shape=(rows, ct2.shape[-1]))
    return b.emit("matmul", [b.emit("permute", [x_f], perm=(1, 0)), ct_f])


def _vjp_matmul(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, y = eqn.inputs
    # Work on >= 2-D operands; the driver sums broadcast batch dims back down.
    x2 = x if x.ndim >= 2 else b.emit("reshape", [x], shape=(1,) + x.shape)
    y2 = y if y.ndim >= 2 else b.emit("reshape", [y], shape=y.shape + (1,))
    ct2_shape = _infer_matmul([x2.type, y2.type], {})[0].shape
    ct2 = b.emit("reshape", [ct], shape=ct2_shape) if ct2_shape != ct.shape else ct
    grads: list[Atom | None] = []
    for operand, operand2, other, left in ((x, x2, y2, True), (y, y2, x2, False)):
        if not operand.dtype.is_floating_point:
            grads.append(None)
            continue
        folded = _folded_grad(b, ct2, operand2, other, left)
        if folded is not None:
            grads.append(folded if operand.ndim >= 2 else
                         b.emit("reshape", [folded], shape=operand.shape))
            continue
        perm = tuple(range(other.ndim - 2)) + (other.ndim - 1, other.ndim - 2)
        other_t = b.emit("permute", [other], perm=perm)
        g = b.emit("matmul", [ct2, other_t] if left else [other_t, ct2])
        if g.shape != operand2.shape:
            g = sum_to(b, g, operand2.shape)
        if operand.ndim < 2:
            g = b.emit("reshape", [g], shape=operand.shape)
        grads.append(g)
    return grads


def _emit_matmul(args: list[str], a: dict[str, Any], ins: Sequence[TensorType],
                 out: TensorType) -> str:
    x, y = args
    if ins[0].ndim >= 3 and ins[1].ndim == 2:
        # (..., M, K) @ (K, N) as one (rows, K) GEMM: NumPy runs it as one small product per
        # batch entry otherwise (an LSTM's input projection took twice as long)
        return f"np.matmul({x}.reshape(-1, {x}.shape[-1]), {y}).reshape({x}.shape[:-1] + {y}.shape[-1:])"
    return f"np.matmul({x}, {y})"


register(OpDef("matmul", "matmul", _infer_matmul, vjp=_vjp_matmul, torch_name="Mm",
               emit={"numpy": _emit_matmul}))


# ---------------------------------------------------------------- select and creation


def _infer_where(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    c, x, y = types
    return (TensorType(broadcast_shapes(c.shape, x.shape, y.shape), _same_dtype([x, y])),)


def _vjp_where(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    c, x, y = eqn.inputs
    zero = Literal(0, ct.dtype)
    return [None, b.emit("where", [c, ct, zero]), b.emit("where", [c, zero, ct])]


register(OpDef("where", "select", _infer_where, vjp=_vjp_where, torch_name="Where",
               emit={"numpy": "np.where({0}, {1}, {2})"}))

register(OpDef(
    "full", "creation",
    lambda types, a: (TensorType(tuple(a["shape"]), a["dtype"]),),
    vjp=lambda b, e, ct: [], torch_name="Full",
    emit={"numpy": "np.full({shape}, {value!r}, dtype=np.{dtype})"},
))


# ---------------------------------------------------------------- helpers for rules


def sum_to(b: Builder, g: Atom, shape: tuple[int, ...]) -> Atom:
    """Sum a broadcast gradient back down to `shape` (the inverse of broadcasting)."""
    lead = len(g.shape) - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    if dims:
        g = b.emit("sum", [g], dims=dims, keepdim=True)
    if g.shape != shape:
        g = b.emit("reshape", [g], shape=shape)
    return g


# detach: the identity that stops gradients (tensor.detach(), no_grad inside a trace)
register(OpDef("detach", "movement", lambda types, a: (types[0],), torch_name="Detach",
               differentiable=False, emit={"numpy": "{0}"}))


# custom_vjp: the identity on its first operand whose gradient is a user's backward (a
# torch.autograd.Function traced inside a compiled function). Operands: the forward output,
# then the differentiated inputs, then the values the backward reads; `rule` names the traced
# backward graph in CUSTOM_VJPS (this process only), `out` which forward output this is.
# Stripped with `detach` once autodiff is done, so no backend emits it.
CUSTOM_VJPS: dict[int, Any] = {}


def _vjp_custom(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    rule = CUSTOM_VJPS[eqn.params["rule"]]
    n_x = eqn.params["n_x"]
    env: dict[Any, Atom] = {}
    for k, v in enumerate(rule.ct_vars):
        env[v] = ct if k == eqn.params["out"] else b.emit("full", [], shape=v.shape, value=0,
                                                           dtype=v.dtype)
    for slot, atom in zip(rule.slot_vars, eqn.inputs[1 + n_x:]):
        env[slot] = atom
    for e in rule.eqns:
        outs = b.emit_multi(e.op, [env.get(a, a) for a in e.inputs], hint=e.outputs[0].hint,
                            loc=e.loc, **e.params)
        env.update(zip(e.outputs, outs))
    grads = [None if g is None else env.get(g, g) for g in rule.grads]
    return [None, *grads, *([None] * (len(eqn.inputs) - 1 - n_x))]


register(OpDef("custom_vjp", "movement", lambda types, a: (types[0],), vjp=_vjp_custom,
               torch_name="CustomFunction", emit={"numpy": "{0}"}))


# iota: 0, 1, 2, ... along `dim`, broadcast to `shape` (arange inside traces, one_hot)
def _emit_iota(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    shape, dim = a["shape"], a["dim"]
    view = tuple(s if i == dim else 1 for i, s in enumerate(shape))
    ramp = f"np.arange({shape[dim]}, dtype=np.{out_type.dtype.name})"
    if len(shape) == 1:
        return ramp
    return f"np.broadcast_to({ramp}.reshape({view}), {shape})"


register(OpDef(
    "iota", "creation",
    lambda types, a: (TensorType(tuple(a["shape"]), a["dtype"]),),
    vjp=lambda b, e, ct: [], torch_name="Arange", emit={"numpy": _emit_iota},
))
