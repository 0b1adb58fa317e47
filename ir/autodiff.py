"""Reverse-mode autodiff: a forward graph in, a backward graph out.

Pointwise equations are differentiated by sympy (ir/symbolic.py); structural ones use
the VJP rule of their OpDef. What every op shares is done here, once: summing
gradients back to broadcast input shapes, adding up gradients of values used more than
once, and skipping non-float values (they have no gradient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy

from . import symbolic
from .builder import Builder
from .graph import Atom, Eqn, Graph, Var
from .opdef import get_op
from .ops import sum_to


def _differentiable(a: Atom) -> bool:
    return isinstance(a, Var) and a.dtype.is_floating_point


def _pointwise_vjp(b: Builder, eqn: Eqn, ct: Atom) -> list[Atom | None]:
    literals = symbolic.literal_key(eqn)
    syms = symbolic.arg_symbols(len(eqn.inputs))
    grads: list[Atom | None] = []
    for i, x in enumerate(eqn.inputs):
        if not _differentiable(x):
            grads.append(None)
            continue
        d = symbolic.derivative(eqn.op, eqn.attrs, literals, i)
        if d == 0:
            grads.append(None)
            continue
        expr = symbolic.CT * d
        # Operands of the derivative's own equation: ct, the inputs it reads, the result.
        by_symbol: dict[sympy.Symbol, Atom] = {symbolic.CT: ct}
        by_symbol.update(zip(syms, eqn.inputs))
        by_symbol[symbolic.OUT] = eqn.outputs[0]
        used = [s for s in (symbolic.CT, *syms, symbolic.OUT) if s in expr.free_symbols]
        if expr == symbolic.CT:
            grads.append(ct)
            continue
        renamed = expr.xreplace(dict(zip(used, symbolic.arg_symbols(len(used)))))
        dtype = eqn.outputs[0].dtype
        doc = symbolic.derivative_doc(eqn.op, eqn.attrs, literals, i)
        grads.append(b.emit("pointwise", [by_symbol[s] for s in used], expr=renamed,
                            dtype=dtype, doc=doc, hint="grad", loc=eqn.loc))
    return grads


_GENERIC_HINTS = {"grad", "add", "pointwise", "matmul", "reshape", "sum", "permute",
                  "broadcast_to", "cast", "where", "neg"}


def backprop(b: Builder, eqns: Sequence[Eqn], seeds: dict[Var, Atom],
             active: set[Var]) -> dict[Var, Atom]:
    """Propagate cotangents from `seeds` back through `eqns`; only equations reading an
    `active` value (one that depends on a differentiated input) are visited."""
    cts: dict[Var, Atom] = dict(seeds)
    for eqn in reversed(eqns):
        ct = cts.get(eqn.outputs[0])
        if ct is None or not any(isinstance(i, Var) and i in active for i in eqn.inputs):
            continue
        op = get_op(eqn.op)
        if not op.differentiable:
            continue
        b.loc = eqn.loc
        in_cts = _pointwise_vjp(b, eqn, ct) if op.is_pointwise else op.vjp(b, eqn, ct)
        for x, g in zip(eqn.inputs, in_cts):
            if g is None or not _differentiable(x) or x not in active:
                continue
            if isinstance(g, Var) and g.hint in _GENERIC_HINTS:
                g.hint = "grad_" + x.hint
            if g.shape != x.shape:
                g = sum_to(b, g, x.shape)
            if g.dtype is not x.dtype:
                g = b.emit("cast", [g], dtype=x.dtype)
            prev = cts.get(x)
            cts[x] = g if prev is None else b.emit("add", [prev, g], hint="grad_" + x.hint)
    return cts


def active_values(graph: Graph, wrt: Sequence[bool]) -> set[Var]:
    """Values that depend on a differentiated input (through float values only)."""
    active = {v for v, w in zip(graph.inputs, wrt) if w and v.dtype.is_floating_point}
    for eqn in graph.eqns:
        if get_op(eqn.op).differentiable and any(isinstance(i, Var) and i in active for i in eqn.inputs):
            active.update(o for o in eqn.outputs if o.dtype.is_floating_point)
    return active


@dataclass
class Backward:
    """The backward graph and how it connects to the forward one.

    backward.inputs = residuals + cotangents (one per entry of `ct_outputs`);
    backward.outputs = one gradient per differentiated input, in input order."""

    graph: Graph
    residuals: list[Var]  # forward values the backward graph reads
    ct_outputs: list[int]  # indices of forward outputs that receive a cotangent
    wrt: list[int]  # indices of forward inputs that get a gradient


def _grad_hint(v: Var) -> str:
    return "grad_" + v.hint


def build_backward(graph: Graph, wrt: Sequence[bool]) -> Backward:
    active = active_values(graph, wrt)
    ct_outputs = [i for i, o in enumerate(graph.outputs) if isinstance(o, Var) and o in active]
    ct_vars = [Var(graph.outputs[i].type, "grad_" + graph.outputs[i].hint) for i in ct_outputs]
    seeds: dict[Var, Atom] = {}
    b = Builder()
    for i, ctv in zip(ct_outputs, ct_vars):
        out = graph.outputs[i]
        seeds[out] = ctv if out not in seeds else b.emit("add", [seeds[out], ctv])
    cts = backprop(b, graph.eqns, seeds, active)
    grads: list[Atom] = []
    wrt_idx = [i for i, w in enumerate(wrt) if w and graph.inputs[i].dtype.is_floating_point]
    for i in wrt_idx:
        x = graph.inputs[i]
        g = cts.get(x)
        if g is None:
            g = b.emit("full", [], shape=x.shape, value=0, dtype=x.dtype)
        grads.append(g)
    defined_here = {o for e in b.eqns for o in e.outputs}
    for g, i in zip(grads, wrt_idx):
        if isinstance(g, Var) and g in defined_here:
            g.hint = _grad_hint(graph.inputs[i])
    defined = {o for e in b.eqns for o in e.outputs} | set(ct_vars)
    residuals: list[Var] = []
    seen: set[Var] = set()
    for e in b.eqns:
        for a in e.inputs:
            if isinstance(a, Var) and a not in defined and a not in seen:
                seen.add(a)
                residuals.append(a)
    for g in grads:
        if isinstance(g, Var) and g not in defined and g not in seen:
            seen.add(g)
            residuals.append(g)
    bwd = Graph(graph.name + "_backward", residuals + ct_vars, b.eqns, grads)
    return Backward(bwd, residuals, ct_outputs, wrt_idx)


def grad_graph(graph: Graph, argnums: Sequence[int], with_value: bool) -> Graph:
    """JAX-style grad of a scalar-output graph: one graph computing the value (optional)
    and the gradients wrt `argnums`, forward and backward together."""
    out = graph.outputs[0]
    wrt = [i in argnums for i in range(len(graph.inputs))]
    b = Builder()
    b.eqns = list(graph.eqns)
    active = active_values(graph, wrt)
    out_loc = next((e.loc for e in graph.eqns if out in e.outputs), None)
    seed = b.emit("full", [], shape=out.shape, value=1, dtype=out.dtype, loc=out_loc,
                  hint="grad_" + getattr(out, "hint", "out"))
    cts = backprop(b, graph.eqns, {out: seed} if isinstance(out, Var) else {}, active)
    grads: list[Atom] = []
    forward_values = set(graph.vars_defined())
    for i in argnums:
        x = graph.inputs[i]
        g = cts.get(x)
        if g is None:
            g = b.emit("full", [], shape=x.shape, value=0, dtype=x.dtype)
        if isinstance(g, Var) and g not in forward_values:
            g.hint = _grad_hint(x)
        grads.append(g)
    outs = ([out] if with_value else []) + grads
    return Graph(graph.name + "_grad", list(graph.inputs), b.eqns, outs, dict(graph.meta))


__all__ = ["Backward", "backprop", "build_backward", "grad_graph", "active_values"]
