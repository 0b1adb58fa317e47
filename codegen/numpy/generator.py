"""NumPy backend: one readable Python function per graph, from a jinja2 template.

One statement per equation, named after the values, grouped under a comment with the
user's source line; values are deleted after their last use. The same graph always
renders the same bytes.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import jinja2
import numpy as np

from ...ir import symbolic
from ...ir.dtypes import DType
from ...ir.graph import Atom, Eqn, Graph, Literal, Var
from ...ir.opdef import get_op
from ...ir.printer import value_names
from ...ir.shapes import broadcast_shapes
from ...ir.symdims import (check_printable, free_sizes, in_order, is_symbolic, needs_size_code, numel_hint,
                           size_code, sources)
from .inplace import REG, Call, lower
from .memory import last_uses, plan as plan_memory
from .printer import print_expr

VERSION = "0.1.0"


@lru_cache(maxsize=2)
def _env(backend: str = "numpy") -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / backend),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def template(name: str, backend: str = "numpy") -> jinja2.Template:
    return _env(backend).get_template(name)


def _literal(a: Literal) -> str:
    if is_symbolic(a.value):
        return f"({size_code(a.value)})"  # made from sizes (1/s0 of a mean): read at call time
    if a.dtype.name == "bool":
        return repr(bool(a.value))
    if a.dtype.is_floating_point:
        return _float_text(float(a.value))
    return repr(int(a.value))


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


class _Code(str):
    """An attribute already printed as code: its repr is itself (for `{value!r}`)."""

    def __repr__(self) -> str:
        return str(self)


def _attr_text(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return _Code(_float_text(v))
    if needs_size_code(v):  # Mod(1, s0) of a roll along a symbolic size: ((1) % (s0))
        return _Code(size_code(v))
    return v.name if isinstance(v, DType) else v


@lru_cache(maxsize=4096)
def _dtype_ok(code: str, in_dtypes: tuple[str, ...], want: str) -> bool:
    """Does the printed pointwise expression produce `want`? (NumPy decides dtypes by
    operand kinds; a constant-only branch can come out as int64 or float64.)"""
    env = {"np": np, **{f"_a{i}": np.ones(2, dtype=d) for i, d in enumerate(in_dtypes) if d},
           **{f"s{i}": 2 for i in range(64)}}  # symbolic sizes (dynamic=True) are ints
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return np.asarray(eval(code, env)).dtype == np.dtype(want)
        except Exception:
            return False


def emit_eqn(eqn: Eqn, args: list[str]) -> str:
    """The NumPy expression computing the equation's (single) output."""
    op = get_op(eqn.op)
    out_t = eqn.outputs[0].type
    if op.is_pointwise:
        syms = symbolic.arg_symbols(len(eqn.inputs))
        expr = symbolic.formula(eqn.op, eqn.attrs, symbolic.literal_key(eqn))
        code = print_expr(expr, dict(zip(syms, args)))
        probe_names = {s: (f"_a{i}" if isinstance(a, Var) else arg)
                       for i, (s, a, arg) in enumerate(zip(syms, eqn.inputs, args))}
        probe = print_expr(expr, probe_names)
        in_dtypes = tuple(a.dtype.name if isinstance(a, Var) else "" for a in eqn.inputs)
        if not _dtype_ok(probe, in_dtypes, out_t.dtype.name):
            code = f"np.asarray({code}, dtype=np.{out_t.dtype.name})"
        used = [a for s, a in zip(syms, eqn.inputs) if isinstance(a, Var) and s in expr.free_symbols]
        if broadcast_shapes((), *(a.shape for a in used)) != out_t.shape:
            # the formula no longer reads every operand (x**0 is 1): keep the full shape
            code = f"np.broadcast_to({code}, {out_t.shape})"
        return code
    emitter = op.emit.get("numpy")
    if emitter is None:
        raise NotImplementedError(f"op {eqn.op!r} has no NumPy emitter")
    attrs = {k: _attr_text(v) for k, v in eqn.attrs if k != "doc"}
    if callable(emitter):
        return emitter(args, attrs, [a.type for a in eqn.inputs], out_t)
    return emitter.format(*args, **attrs)


def _signature(graph: Graph, names: dict[Var, str]) -> str:
    ins = ", ".join(f"{names[v]}: {v.type}" for v in graph.inputs)
    outs = ", ".join(str(a.type) for a in graph.outputs)
    return f"{graph.name}({ins}) -> ({outs})"


def generate(graph: Graph, fn_name: str | None = None) -> str:
    """NumPy source for `graph`: a module defining one function, `fn_name` (default:
    the graph's name), that takes and returns arrays (outputs always as a tuple)."""
    return template("module.py.j2").render(
        version=VERSION, graph_name=graph.name, function=render_function(graph, fn_name)
    )


# Values at least this big are computed by in-place ufunc chains into reused buffers;
# smaller ones print as one expression (malloc reuses small blocks without page faults).
INPLACE_MIN_BYTES = 1 << 16


def _inplace_calls(eqn: Eqn, args: list[str]) -> list[Call] | None:
    """The equation as a chain of `out=` ufunc calls, where that is safe and pays."""
    op = get_op(eqn.op)
    out_t = eqn.outputs[0].type
    if (not op.is_pointwise or len(eqn.outputs) != 1 or not out_t.dtype.is_floating_point
            or not out_t.shape  # NumPy returns a 0-d result as a scalar, not a buffer
            or numel_hint(out_t.shape) * out_t.dtype.itemsize < INPLACE_MIN_BYTES):
        return None
    syms = symbolic.arg_symbols(len(eqn.inputs))
    expr = symbolic.formula(eqn.op, eqn.attrs, symbolic.literal_key(eqn))
    used = [(s, a) for s, a in zip(syms, eqn.inputs) if isinstance(a, Var) and s in expr.free_symbols]
    if any(a.dtype is not out_t.dtype for _, a in used):
        return None  # mixed dtypes: NumPy's own promotion decides, as one expression
    full = {s for s, a in used if a.shape == out_t.shape}
    calls = lower(expr, dict(zip(syms, args)), full)
    if calls is None or REG in calls[0].args:
        return None
    return calls


def _call_text(c: Call, name: str, out: str | None) -> str:
    args = [name if a is REG else a for a in c.args]
    if out is not None:
        args.append(f"out={out}")
    return f"np.{c.ufunc}({', '.join(args)})"


def render_function(graph: Graph, fn_name: str | None = None,
                    emit: Callable[[Eqn, list[str]], str | None] | None = None) -> str:
    """The `def` of one graph's function (no imports; it uses `np`), preceded by its
    scratch-buffer helpers when it has any. `emit` may print an equation its own way
    (the C backend's kernel calls); None leaves it to NumPy, with the memory plan."""
    names = value_names(graph)

    def atom(a: Atom) -> str:
        return _literal(a) if isinstance(a, Literal) else names[a]

    body: list[str] = []
    sizes = free_sizes(graph)
    if sizes:
        check_printable(graph)
    where = sources(graph)
    # a shape-generic graph reads its sizes from its inputs; those no input has (the
    # backward of a reshape, say) are keyword arguments
    size_params = [s.name for s in in_order(sizes) if s not in where]
    for sym in in_order(s for s in sizes if s in where):
        i, d = where[sym]
        body.append(f"{sym} = {names[graph.inputs[i]]}.shape[{d}]")
    inplace: dict[int, list[Call]] = {}
    if emit is None:
        for i, e in enumerate(graph.eqns):
            calls = _inplace_calls(e, [atom(a) for a in e.inputs])
            if calls is not None:
                inplace[i] = calls
    # scratch buffers persist across calls of one size; generic code allocates per call
    last_use = last_uses(graph)
    memory = plan_memory(graph, set(inplace), last_use, persistent=not sizes)
    keep = set(graph.inputs) | {a for a in graph.outputs if isinstance(a, Var)}
    loc = None
    for i, e in enumerate(graph.eqns):
        if e.loc is not None and e.loc != loc:
            body.append(f"# {e.loc}")
        loc = e.loc
        doc = e.params.get("doc")
        if doc:
            body.append(f"# {doc}")
        outs = ", ".join(names[o] for o in e.outputs)
        args = [atom(a) for a in e.inputs]
        if i in inplace:
            slot = memory.slot_of[i]
            first, *rest = inplace[i]
            body.append(f"{outs} = {_call_text(first, outs, None if slot is None else f'_b[{slot}]')}")
            body.extend(_call_text(c, outs, outs) for c in rest)
        else:
            code = emit(e, args) if emit is not None else None
            body.append(f"{outs} = {code if code is not None else emit_eqn(e, args)}")
        dead = sorted({names[a] for a in e.inputs
                       if isinstance(a, Var) and last_use.get(a) == i and a not in keep})
        if dead:
            body.append("del " + ", ".join(dead))
    fn = fn_name or names_safe(graph.name)
    return template("function.py.j2").render(
        fn_name=fn,
        scratch=[(t.shape, t.dtype.name) for t in memory.slots],
        params=[names[v] for v in graph.inputs] + (["*"] + size_params if size_params else []),
        signature=_signature(graph, names),
        body=body,
        returns=[f"np.asarray({_literal(a)}, dtype=np.{a.dtype.name})" if isinstance(a, Literal)
                 else names[a] for a in graph.outputs],
    )


def names_safe(name: str) -> str:
    from ...ir.printer import _identifier

    return _identifier(name)


__all__ = ["generate", "emit_eqn", "render_function", "template"]
