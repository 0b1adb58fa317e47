"""Fused regions for the native CPU backend: which equations become one C kernel.

Two kinds of region, both over float data:
- a *reduction region*: sum/amax/amin/prod whose operand is a pointwise tree; the whole
  tree is inlined into the reduction loop (recomputed where its value is needed
  elsewhere too: one more pass over memory costs more than the arithmetic);
- a *pointwise region*: a float pointwise chain, with the comparisons, `where`s and
  bool-to-float casts feeding it, each producer inlined into its only consumer.

Regions are returned as equations: `pointwise` with an `expr` attr (the IR's own fused
form, which the NumPy emitter also prints), and reductions whose inputs are the tree's
leaves with the tree in an `expr` attr. Small regions (under `min_numel` elements) are
left to NumPy: below that, a kernel call costs more than it saves.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from itertools import count
from typing import Callable

import sympy

from ...ir import symbolic
from ...ir.graph import Atom, Eqn, Graph, Literal, TensorType, Var, freeze_attrs
from ...ir.opdef import get_op
from ...ir.passes import dce

REDUCE_OPS = ("sum", "amax", "amin", "prod")
COMPARE_OPS = ("gt", "lt", "ge", "le", "eq", "ne")
FLOATS = ("float32", "float64")


def min_numel() -> int:
    """Smallest output that gets a kernel (TORCHTREK_C_MIN_NUMEL; tests set 0)."""
    return int(os.environ.get("TORCHTREK_C_MIN_NUMEL", 4096))


def _is_float(v: Atom) -> bool:
    return v.dtype.name in FLOATS


def _as_condition(e: sympy.Basic) -> sympy.Basic:
    return e if isinstance(e, (sympy.logic.boolalg.Boolean, sympy.core.relational.Relational)) \
        else sympy.Ne(e, 0)


def node_expr(e: Eqn, args: list[sympy.Basic]) -> sympy.Basic | None:
    """The equation as a sympy expression of its operands' expressions, or None when the
    equation is not one the kernels compute (not pointwise, or not in float/bool terms)."""
    out = e.outputs[0]
    op = get_op(e.op)
    if op.is_pointwise:
        if e.op in COMPARE_OPS:  # of any dtype C has (not float16: no C type)
            if any(a.dtype.name == "float16" for a in e.inputs):
                return None
            return op.formula(*args) if callable(op.formula) else None
        if not _is_float(out) or not all(_is_float(a) for a in e.inputs):
            return None
        syms = symbolic.arg_symbols(len(e.inputs))
        f = symbolic.formula(e.op, e.attrs, (None,) * len(e.inputs))
        return f.xreplace(dict(zip(syms, args)))
    if e.op == "where" and _is_float(out) and all(_is_float(a) for a in e.inputs[1:]):
        return sympy.Piecewise((args[1], _as_condition(args[0])), (args[2], True))
    if e.op == "cast" and _is_float(out) and e.inputs[0].dtype.name == "bool":
        return sympy.Piecewise((1, _as_condition(args[0])), (0, True))
    return None


Leaf = tuple[Atom, sympy.Symbol, tuple[int, ...]]  # value, its symbol, the shape it is read as


def _unit_reshape(e: Eqn) -> bool:
    """A reshape that only adds or drops size-1 dims: the same buffer, read as the new shape."""
    if e.op != "reshape" or not isinstance(e.inputs[0], Var):
        return False
    return [n for n in e.inputs[0].shape if n != 1] == [n for n in e.outputs[0].shape if n != 1]


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.producer = {o: e for e in graph.eqns for o in e.outputs}
        self.outputs = {a for a in graph.outputs if isinstance(a, Var)}
        self.fresh = count()

    def tree(self, root: Eqn, inline: Callable[[Var], bool]
             ) -> tuple[sympy.Basic, list[Leaf], list[Eqn]] | None:
        """`root` as one expression over leaf symbols, inlining producers `inline` allows.
        Broadcasts and size-1 reshapes are read in place: the leaf is their operand, read
        through the strides of the shape it had (no copy of a broadcast operand)."""
        # literals are leaves (symbols printed as constants): substituted as numbers,
        # sympy would fold x*0 to 0 (wrong for inf and nan) and min(max(x, 1), -1) to -1
        # (wrong for nan); only a pow's exponent is substituted
        leaves: list[Leaf] = []
        absorbed: list[Eqn] = []

        def visit(a: Atom, in_pow_exponent: bool = False) -> sympy.Basic | None:
            if (isinstance(a, Literal) and in_pow_exponent and a.value != 0
                    and math.isfinite(a.value)):
                return symbolic.literal_number(a.value)  # x**3 prints as x*x*x
            p = self.producer.get(a) if isinstance(a, Var) else None
            if p is not None and len(p.outputs) == 1 and inline(a):
                got = expr_of(p)
                if got is not None:
                    absorbed.append(p)
                    return got
            if p is not None and p.op == "broadcast_to":
                # the operand read in place, through stride-0 dims, or computed where read
                # (right-aligned broadcasting composes, so its leaves broadcast as it did)
                return visit(p.inputs[0])
            shape = a.shape
            while p is not None and _unit_reshape(p):
                a = p.inputs[0]  # the same buffer, read as `shape`
                p = self.producer.get(a)
            # every use is its own leaf: x/x must stay x0/x1 (nan at 0), not 1
            s = sympy.Symbol(f"_leaf{next(self.fresh)}", real=True)
            leaves.append((a, s, tuple(shape)))
            return s

        def expr_of(e: Eqn) -> sympy.Basic | None:
            mark = (len(leaves), len(absorbed))
            args = [visit(a, e.op == "pow" and i == 1) for i, a in enumerate(e.inputs)]
            got = node_expr(e, args)
            if got is None:  # undo what the operands added
                del leaves[mark[0]:], absorbed[mark[1]:]
            return got

        expr = expr_of(root)
        return None if expr is None else (expr, leaves, absorbed)


def _renumber(expr: sympy.Basic, leaves: list[Leaf]) -> sympy.Basic:
    syms = symbolic.arg_symbols(len(leaves))
    return expr.xreplace({leaf: s for (_, leaf, _), s in zip(leaves, syms)})


def _region_attrs(base: dict, expr: sympy.Basic, leaves: list[Leaf]) -> tuple:
    attrs = dict(base)
    attrs["expr"] = _renumber(expr, leaves)
    attrs["shapes"] = tuple(shape for _, _, shape in leaves)
    return freeze_attrs(attrs)


def fuse_reductions(graph: Graph, threshold: int) -> tuple[Graph, set[Var]]:
    """Reductions take in the pointwise trees producing their operands. Returns the new
    graph and the outputs of the fused reductions (their eqns carry `expr`, the leaves'
    `shapes` and the reduced operand's shape as `in_shape`)."""
    b = _Builder(graph)
    fused: set[Var] = set()
    eqns: list[Eqn] = []
    for e in graph.eqns:
        x = e.inputs[0] if e.inputs else None
        if (e.op in REDUCE_OPS and isinstance(x, Var) and _is_float(x) and x.type.numel >= threshold
                and 0 not in x.shape):
            ident = Eqn("pointwise", (x,), (Var(x.type, "t"),),
                        freeze_attrs({"expr": symbolic.arg_symbols(1)[0], "dtype": x.dtype}))
            got = b.tree(ident, inline=lambda v: True)
            if got is not None:
                expr, leaves, _ = got
                nd = x.ndim
                attrs = {**dict(e.attrs), "in_shape": x.shape}
                final = None
                if nd >= 2 and {d % nd for d in e.params["dims"]} == set(range(nd)) \
                        and x.shape[-1] > 1:
                    # a reduction of everything: per-row partials (they can join a row
                    # group, and sum more accurately), then the partials reduced
                    rows = Var(TensorType(x.shape[:-1] + (1,), e.outputs[0].dtype), "rows")
                    attrs.update(dims=(nd - 1,), keepdim=True)
                    final = Eqn(e.op, (rows,), e.outputs, e.attrs, e.loc)
                    outputs = (rows,)
                else:
                    outputs = e.outputs
                e = Eqn(e.op, tuple(v for v, _, _ in leaves), outputs,
                        _region_attrs(attrs, expr, leaves), e.loc)
                fused.add(e.outputs[0])
                if final is not None:
                    eqns.append(e)
                    e = final
        eqns.append(e)
    return dce(Graph(graph.name, graph.inputs, eqns, graph.outputs, graph.meta)), fused


def fuse_pointwise_regions(graph: Graph, threshold: int) -> tuple[Graph, set[Var]]:
    """Float pointwise chains (with the compares/wheres/casts feeding them) become single
    `pointwise` equations; returns the graph and the outputs that get a kernel. A value
    used once is inlined; so is a small one (a per-row statistic, say), recomputed: its
    arithmetic is loop-invariant and costs less than materializing it."""
    uses: Counter[Var] = Counter(a for e in graph.eqns for a in e.inputs if isinstance(a, Var))
    b = _Builder(graph)
    inlined: set[int] = set()
    regions: dict[int, Eqn] = {}
    kernels: set[Var] = set()
    # consumers first: a region swallows its single-use producers before they are visited
    for i in range(len(graph.eqns) - 1, -1, -1):
        e = graph.eqns[i]
        if id(e) in inlined or len(e.outputs) != 1:
            continue
        out = e.outputs[0]
        if not _is_float(out) or out.type.numel < threshold or out.type.numel == 0:
            continue
        small = out.type.numel // 8

        def cheap(v: Var) -> bool:
            """One add/sub/mul/div of one full-size operand: recomputing it where it is
            used costs less than writing it out and reading it back (x - mean in a
            layer norm)."""
            p = b.producer.get(v)
            return (p is not None and p.op in ("add", "sub", "mul", "div", "neg")
                    and v not in b.outputs
                    and sum(isinstance(a, Var) and a.type.numel > small for a in p.inputs) <= 1)

        got = b.tree(e, inline=lambda v: (uses[v] == 1 and v not in b.outputs)
                     or v.type.numel <= small or cheap(v))
        if got is None:
            continue
        expr, leaves, absorbed = got
        inlined.update(id(p) for p in absorbed)  # not regions of their own (DCE drops them)
        regions[id(e)] = Eqn("pointwise", tuple(v for v, _, _ in leaves), e.outputs,
                             _region_attrs({"dtype": out.dtype}, expr, leaves), e.loc)
        kernels.add(out)
    eqns = [regions.get(id(e), e) for e in graph.eqns]
    return dce(Graph(graph.name, graph.inputs, eqns, graph.outputs, graph.meta)), kernels


# In a graph that gets kernels anyway (its shared object is built regardless), regions
# down to this size get them too: a ctypes call (~3 us) beats NumPy's per-row overhead on
# short rows (np.amax over [256,10] takes 26 us) and one call replaces a chain of them.
SMALL_NUMEL = 256


def _has_region(graph: Graph, threshold: int) -> bool:
    """Does `graph` have a float pointwise or reduction of at least `threshold` elements?"""
    for e in graph.eqns:
        if e.op in REDUCE_OPS:
            x = e.inputs[0] if e.inputs else None
            if isinstance(x, Var) and _is_float(x) and x.type.numel >= threshold:
                return True
        elif (len(e.outputs) == 1 and get_op(e.op).is_pointwise and _is_float(e.outputs[0])
              and e.outputs[0].type.numel >= threshold):
            return True
    return False


def plan(graph: Graph, threshold: int | None = None) -> tuple[Graph, set[Var], set[Var]]:
    """The graph with its regions formed: (graph, pointwise kernel outputs, reduction
    kernel outputs)."""
    t = min_numel() if threshold is None else threshold
    if t > SMALL_NUMEL and _has_region(graph, t):
        t = SMALL_NUMEL
    graph, reductions = fuse_reductions(graph, t)
    graph, pointwise = fuse_pointwise_regions(graph, t)
    return graph, pointwise, reductions
