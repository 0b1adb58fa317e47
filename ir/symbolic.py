"""Sympy side of pointwise ops: the formula of an equation and its derivatives.

Derivatives are computed once per (op, attrs, literal operands, input index) and cached:
sympy is slow, and the same pattern recurs in every graph.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy

from .graph import Eqn, Literal
from .opdef import get_op

OUT = sympy.Symbol("out", real=True)  # the op's own result, reused by derivatives
CT = sympy.Symbol("ct", real=True)  # the incoming cotangent


@lru_cache(maxsize=None)
def arg_symbols(n: int) -> tuple[sympy.Symbol, ...]:
    return tuple(sympy.Symbol(f"x{i}", real=True) for i in range(n))


def literal_number(value: bool | int | float) -> sympy.Expr:
    if isinstance(value, bool):
        return sympy.Integer(int(value))
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return sympy.Integer(int(value))  # 2.0 prints and differentiates as 2
    return sympy.sympify(value)


def literal_key(eqn: Eqn) -> tuple[Any, ...]:
    return tuple(i.value if isinstance(i, Literal) else None for i in eqn.inputs)


@lru_cache(maxsize=4096)
def formula(op_name: str, attrs: tuple, literals: tuple) -> sympy.Expr:
    """The op's formula over x0..xn, with literal operands substituted where that keeps
    every other operand in the formula (x*0 must stay x*0: inf*0 is nan, not 0)."""
    op = get_op(op_name)
    syms = arg_symbols(len(literals))
    expr = sympy.sympify(op.formula(*syms, **dict(attrs)))
    subs = {s: literal_number(v) for s, v in zip(syms, literals) if v is not None}
    if not subs:
        return expr
    kept = expr.free_symbols - set(subs)
    substituted = expr.subs(subs)
    if substituted.free_symbols != kept or substituted.has(sympy.zoo, sympy.nan):
        return expr
    return substituted


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    # relu'(0) = 0 and |x|'(0) = 0 as in torch: pin Heaviside's value at zero.
    expr = expr.replace(
        lambda e: isinstance(e, sympy.Heaviside) and e.args[1:] != (0,),
        lambda e: sympy.Heaviside(e.args[0], 0),
    )
    # |x|'' and relu'' are DiracDelta: torch's derivative of sign/step is 0 everywhere
    expr = expr.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.Integer(0))
    if sympy.count_ops(expr) <= 40:
        simpler = sympy.simplify(expr)
        if sympy.count_ops(simpler) < sympy.count_ops(expr):
            expr = simpler
    return expr


def derivative(op_name: str, attrs: tuple, literals: tuple, index: int) -> sympy.Expr:
    """d out / d x_index, over x0..xn and OUT (the result, where reusing it is cheaper)."""
    return _derivative_and_doc(op_name, attrs, literals, index)[0]


@lru_cache(maxsize=4096)
def _derivative_and_doc(op_name: str, attrs: tuple, literals: tuple, index: int
                        ) -> tuple[sympy.Expr, str]:
    """The derivative and its doc string, read from or written to the disk cache together:
    sympy's simplify is most of a cold compile."""
    from ..runtime import disk_cache  # the cache is a runtime service; imported late

    key = None
    if disk_cache.enabled():
        key = disk_cache.make_key("derivative", op_name, repr(attrs), repr(literals), str(index))
        hit = disk_cache.load(key)
        if hit is not None and isinstance(hit.get("doc"), str):
            try:
                return _from_srepr(hit["srepr"]), hit["doc"]
            except Exception:  # noqa: BLE001 - a foreign entry: recompute and rewrite
                pass
    d = _derivative(op_name, attrs, literals, index)
    doc = _doc(op_name, attrs, literals, index, d)
    if key is not None:
        disk_cache.store(key, {"srepr": sympy.srepr(d), "doc": doc})
    return d, doc


@lru_cache(maxsize=1)
def _srepr_namespace() -> dict:
    from .ops.math_functions import SYMPY_FUNCTIONS

    return {**vars(sympy), **SYMPY_FUNCTIONS}


def _from_srepr(text: str) -> sympy.Expr:
    return eval(text, _srepr_namespace())  # noqa: S307 - our own srepr, from our own cache


def _derivative(op_name: str, attrs: tuple, literals: tuple, index: int) -> sympy.Expr:
    op = get_op(op_name)
    syms = arg_symbols(len(literals))
    f = formula(op_name, attrs, literals)
    if op.grad is not None:
        d = sympy.sympify(op.grad(*syms, out=OUT, **dict(attrs))[index])
        subs = {s: literal_number(v) for s, v in zip(syms, literals) if v is not None}
        if subs and f.free_symbols.isdisjoint(subs):  # the formula took the literals
            substituted = d.subs(subs)
            if not substituted.has(sympy.zoo, sympy.nan):  # log(0) stays a literal's log
                d = substituted
    else:
        d = sympy.diff(f, syms[index])
        if not f.is_Symbol and not f.is_Number:
            d = d.subs(f, OUT)
    return _tidy(d)


_DISPLAY = sympy.symbols("x y z u v w", real=True)


def derivative_doc(op_name: str, attrs: tuple, literals: tuple, index: int) -> str:
    """The derivative in math form for comments: 'd/dx tanh(x) = 1 - tanh(x)**2'."""
    return _derivative_and_doc(op_name, attrs, literals, index)[1]


def _doc(op_name: str, attrs: tuple, literals: tuple, index: int, d: sympy.Expr) -> str:
    n = len(literals)
    syms = arg_symbols(n)
    shown = {s: (_DISPLAY[i] if i < len(_DISPLAY) else s) for i, s in enumerate(syms)}
    f = formula(op_name, attrs, literals)
    d = d.xreplace({OUT: f})
    return f"d/d{shown[syms[index]]} {f.xreplace(shown)} = {d.xreplace(shown)}"
