"""Ops of the reductions family (see core.py for the conventions: one OpDef per op).

prod, amin, argmin, cumsum, cumprod, all/any, var/std, the p-norm, and the two index
ops behind min(x, dim) (argselect: the value at an index; argmask: a one-hot mask).
Front ends (torchtrek/ops/reductions.py) normalize dims, cast dtypes and raise torch's
argument errors; the rules here assume valid, normalized attrs.
"""

from __future__ import annotations

from typing import Any, Sequence

import sympy

from .. import dtypes
from ..builder import Builder
from ..graph import Atom, Eqn, Literal, TensorType
from ..opdef import OpDef, register
from ..symbolic import arg_symbols
from .core import _vjp_amax
from ..symdims import is_symbolic

# ---------------------------------------------------------------- helpers


def reduced_shape(shape: tuple[int, ...], dims: Sequence[int], keep: bool) -> tuple[int, ...]:
    return tuple(1 if i in dims else s for i, s in enumerate(shape) if keep or i not in dims)


def _kept(b: Builder, eqn: Eqn, *atoms: Atom) -> list[Atom]:
    """`atoms` (of the reduction's output shape) reshaped to keepdim form."""
    x = eqn.inputs[0]
    dims, keep = eqn.params["dims"], eqn.params["keepdim"]
    kept = reduced_shape(x.shape, dims, True)
    return [a if keep or a.shape == kept else b.emit("reshape", [a], shape=kept) for a in atoms]


def _pw(b: Builder, inputs: Sequence[Atom], expr: sympy.Expr, dtype: dtypes.DType) -> Atom:
    return b.emit("pointwise", list(inputs), expr=expr, dtype=dtype)


def _axis(dims: Sequence[int]) -> str:
    return repr(tuple(dims))


def _infer_keep_dtype(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    return (TensorType(reduced_shape(t.shape, a["dims"], a["keepdim"]), t.dtype),)


# ---------------------------------------------------------------- prod


def _infer_prod(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    dtype = t.dtype if t.dtype.is_floating_point else dtypes.int64
    return (TensorType(reduced_shape(t.shape, a["dims"], a["keepdim"]), dtype),)


def _vjp_prod(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    # No division by x where x may be 0 (torch's rule): at a non-zero x the gradient is
    # out / x (0 when another entry is 0); at the only zero, the product of the others;
    # with two zeros, that product written as others * (S - x) where S sums the zeros'
    # values (0, but it keeps the second derivative exact); with more, 0.
    (x,) = eqn.inputs
    dims = eqn.params["dims"]
    out, g = _kept(b, eqn, eqn.outputs[0], ct)
    zero_l = Literal(0.0, x.dtype)
    zero = b.emit("eq", [x, zero_l])
    x_nz = b.emit("where", [zero, Literal(1.0, x.dtype), x])
    others = b.emit("prod", [x_nz], dims=dims, keepdim=True)  # product of the non-zeros
    nzeros = b.emit("sum", [b.emit("cast", [zero], dtype=x.dtype)], dims=dims, keepdim=True)
    zsum = b.emit("sum", [b.emit("where", [zero, x, zero_l])], dims=dims, keepdim=True)
    xs, xnz, o, oth, n, zs, c = arg_symbols(7)
    at_zero = sympy.Eq(xs, 0)
    expr = sympy.Piecewise(
        (c * oth, sympy.And(at_zero, sympy.Eq(n, 1))),
        (c * oth * (zs - xs), sympy.And(at_zero, sympy.Eq(n, 2))),
        (0, at_zero),
        (c * o / xnz, True),
    )
    return [_pw(b, [x, x_nz, out, others, nzeros, zsum, g], expr, x.dtype)]


def _emit_prod(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    return (f"np.prod({args[0]}, axis={_axis(a['dims'])}, keepdims={a['keepdim']}, "
            f"dtype=np.{out_type.dtype.name})")


register(OpDef("prod", "reduce", _infer_prod, vjp=_vjp_prod, torch_name="Prod",
               emit={"numpy": _emit_prod}))

# ---------------------------------------------------------------- amin / argmin

# Front ends check for empty reduced dims (torch's IndexError names the dim).
register(OpDef("amin", "reduce", _infer_keep_dtype, vjp=_vjp_amax, torch_name="Amin",
               emit={"numpy": "np.amin({0}, axis={dims}, keepdims={keepdim})"}))


def _infer_argmin(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (t,) = types
    return (TensorType(reduced_shape(t.shape, (a["dim"],), a["keepdim"]), dtypes.int64),)


register(OpDef("argmin", "reduce", _infer_argmin, torch_name="Argmin", differentiable=False,
               emit={"numpy": "np.argmin({0}, axis={dim}, keepdims={keepdim})"}))

# ---------------------------------------------------------------- argselect / argmask
# values = argselect(x, idx): x's entries at `idx` along `dim` (idx has x's shape with
# size 1 at `dim`). The gradient goes to the selected entry only, as torch's
# max/min(x, dim) do (amax/amin split it between ties instead).


def _infer_argselect(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    x, idx = types
    return (TensorType(idx.shape, x.dtype),)


def _vjp_argselect(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    x, idx = eqn.inputs
    dim = eqn.params["dim"]
    mask = b.emit("argmask", [idx], dim=dim, size=x.shape[dim])
    return [b.emit("where", [mask, ct, Literal(0.0, ct.dtype)]), None]


register(OpDef("argselect", "select", _infer_argselect, vjp=_vjp_argselect,
               torch_name="Min", emit={"numpy": "np.take_along_axis({0}, {1}, axis={dim})"}))


def _infer_argmask(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    (idx,) = types
    shape = tuple(a["size"] if i == a["dim"] else s for i, s in enumerate(idx.shape))
    return (TensorType(shape, dtypes.bool_),)


def _emit_argmask(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    ndim = len(out_type.shape)
    shape = tuple(a["size"] if i == a["dim"] else 1 for i in range(ndim))
    return f"(np.arange({a['size']}).reshape({shape}) == {args[0]})"


register(OpDef("argmask", "select", _infer_argmask, torch_name="Argmask",
               differentiable=False, emit={"numpy": _emit_argmask}))

# ---------------------------------------------------------------- cumsum / cumprod


def _infer_same(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    return (types[0],)


def _emit_cumsum(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    d = a["dim"]
    if a["reverse"]:
        return f"np.flip(np.cumsum(np.flip({args[0]}, {d}), axis={d}), {d})"
    return f"np.cumsum({args[0]}, axis={d})"


register(OpDef(
    "cumsum", "scan", _infer_same, torch_name="Cumsum", emit={"numpy": _emit_cumsum},
    vjp=lambda b, e, ct: [b.emit("cumsum", [ct], dim=e.params["dim"],
                                 reverse=not e.params["reverse"])],
))


def _vjp_cumprod(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    # Exact with zeros, no division by a zero; k-th zero means the k-th along `dim`.
    #   before the 1st zero:   reverse_cumsum(ct * out) / x              (torch's formula)
    #   at the 1st zero:       reverse_cumsum(ct * y1), y1 = cumprod(x, 1st zero -> 1)
    #   between 1st and 2nd:   x1 * reverse_cumsum(ct * y1) / x
    #   at the 2nd zero:       x1 * reverse_cumsum(ct * y2), y2 = cumprod(x, both -> 1)
    #   later:                 0
    # where x1 is the 1st zero's value: the terms are 0, but their derivative in x1 is
    # not, which keeps second derivatives exact.
    (x,) = eqn.inputs
    y = eqn.outputs[0]
    dim, dt = eqn.params["dim"], x.dtype
    one, zero = Literal(1.0, dt), Literal(0.0, dt)
    em = b.emit

    def rev_cumsum(a: Atom) -> Atom:
        return em("cumsum", [em("mul", [ct, a])], dim=dim, reverse=True)

    is_zero = em("eq", [x, zero])
    seen = em("cumsum", [em("cast", [is_zero], dtype=dt)], dim=dim, reverse=False)
    nth = em("where", [is_zero, seen, zero])  # k at the k-th zero, else 0
    first, second = em("eq", [nth, one]), em("eq", [nth, Literal(2.0, dt)])
    x_safe = em("where", [is_zero, one, x])
    t0 = em("div", [rev_cumsum(y), x_safe])
    y1 = em("cumprod", [em("where", [first, one, x])], dim=dim)
    t1 = rev_cumsum(y1)
    x1 = em("sum", [em("where", [first, x, zero])], dims=(dim,), keepdim=True)
    between = em("div", [em("mul", [t1, x1]), x_safe])
    y2 = em("cumprod", [em("where", [second, one, em("where", [first, one, x])])], dim=dim)
    at_second = em("mul", [rev_cumsum(y2), x1])
    g = em("where", [em("eq", [seen, one]), between, zero])
    g = em("where", [second, at_second, g])
    g = em("where", [first, t1, g])
    return [em("where", [em("eq", [seen, zero]), t0, g])]


register(OpDef("cumprod", "scan", _infer_same, vjp=_vjp_cumprod, torch_name="Cumprod",
               emit={"numpy": "np.cumprod({0}, axis={dim})"}))

# ---------------------------------------------------------------- all / any (bool in, bool out)

for _name in ("all", "any"):
    register(OpDef(_name, "reduce", _infer_keep_dtype, torch_name=_name.capitalize(),
                   differentiable=False,
                   emit={"numpy": f"np.{_name}({{0}}, axis={{dims}}, keepdims={{keepdim}})"}))

# ---------------------------------------------------------------- var / std
# attrs: dims, keepdim, count (elements reduced), dof (= max(0, count - correction)).
# Gradients as torch's var_backward / std_backward: 2 / dof * ct * (x - mean), the mean
# recomputed in IR ops so that second derivatives flow through it; std's is 0 where
# std is 0.


def _count_text(n: Any) -> str:
    return f"({n})" if is_symbolic(n) else repr(float(n))  # (a size of dynamic=True: s0 - 1)


def _emit_var(args: list[str], a: dict[str, Any], in_types, out_type, sqrt: bool = False) -> str:
    ax, keep, x = _axis(a["dims"]), a["keepdim"], args[0]
    mean = f"np.sum({x}, axis={ax}, keepdims=True) / {_count_text(a['count'])}"  # (np.mean warns on 0)
    dev = f"np.square({x} - {mean})"
    var = f"np.sum({dev}, axis={ax}, keepdims={keep}) / {_count_text(a['dof'])}"
    return f"np.sqrt({var})" if sqrt else var


def _var_grad(b: Builder, eqn: Eqn, g: Atom) -> Atom:
    (x,) = eqn.inputs
    p = eqn.params
    total = b.emit("sum", [x], dims=p["dims"], keepdim=True)
    count = p["count"] if is_symbolic(p["count"]) else float(p["count"])
    mean = b.emit("div", [total, Literal(count, x.dtype)])
    dev = b.emit("sub", [x, mean])
    return b.emit("div", [b.emit("mul", [g, dev]), Literal(p["dof"] / 2, x.dtype)])


def _vjp_var(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    return [_var_grad(b, eqn, _kept(b, eqn, ct)[0])]


def _vjp_std(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    out, g = _kept(b, eqn, eqn.outputs[0], ct)
    s, c = arg_symbols(2)
    g_var = _pw(b, [out, g], sympy.Piecewise((0, sympy.Eq(s, 0)), (c / (2 * s), True)),
                out.dtype)
    return [_var_grad(b, eqn, g_var)]


register(OpDef("var", "reduce", _infer_keep_dtype, vjp=_vjp_var, torch_name="Var",
               emit={"numpy": _emit_var}))
register(OpDef("std", "reduce", _infer_keep_dtype, vjp=_vjp_std, torch_name="Std",
               emit={"numpy": lambda *a: _emit_var(*a, sqrt=True)}))

# ---------------------------------------------------------------- p-norm (finite p)
# (sum |x|^p)^(1/p); p = 1 and p = +-inf are composed from abs/sum/amax/amin in the front
# end. The gradient follows torch's norm_backward: 0 where the norm is 0 (p >= 1) or
# where x is 0 (p < 1), and no gradient at all for p = 0.


def _emit_pnorm(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    p, ax, keep = a["p"], _axis(a["dims"]), a["keepdim"]
    x = args[0]
    if p == 0:
        return f"np.sum({x} != 0, axis={ax}, keepdims={keep}, dtype=np.{out_type.dtype.name})"
    if p == 2:
        return f"np.sqrt(np.sum(np.square({x}), axis={ax}, keepdims={keep}))"
    return f"np.sum(np.abs({x}) ** {p!r}, axis={ax}, keepdims={keep}) ** {1 / p!r}"


def _exponent(p: float) -> sympy.Expr:
    return sympy.Integer(int(p)) if float(p).is_integer() else sympy.Rational(repr(p))


def _vjp_pnorm(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    p = eqn.params["p"]
    if p == 0:
        return [None]
    (x,) = eqn.inputs
    n, g = _kept(b, eqn, eqn.outputs[0], ct)
    xs, ns, c = arg_symbols(3)
    e = _exponent(p)
    scaled = xs * sympy.Abs(xs) ** (e - 2)  # sgn(x) |x|^(p-1), written without sign()
    if p < 1:
        expr = sympy.Piecewise((0, sympy.Eq(xs, 0)), (c * scaled * ns ** (1 - e), True))
    else:
        # for 1 < p < 2, |x|^(p-2) is infinite at x = 0, where the gradient is 0
        at_zero = sympy.Or(sympy.Eq(ns, 0), sympy.Eq(xs, 0)) if p < 2 else sympy.Eq(ns, 0)
        expr = sympy.Piecewise((0, at_zero), (c * scaled / ns ** (e - 1), True))
    return [_pw(b, [x, n, g], expr, x.dtype)]


register(OpDef("pnorm", "reduce", _infer_keep_dtype, vjp=_vjp_pnorm, torch_name="Norm",
               emit={"numpy": _emit_pnorm}))
