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
from functools import lru_cache
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


NodeKey = tuple  # (op, attrs, operand dtype names, result dtype name)


def _node_key(e: Eqn) -> NodeKey:
    return (e.op, e.attrs, tuple(a.dtype.name for a in e.inputs), e.outputs[0].dtype.name)


def _node_formula(key: NodeKey, args: list[sympy.Basic]) -> sympy.Basic | None:
    """The equation `key` describes as a sympy expression of its operands' expressions,
    or None when it is not one the kernels compute (not pointwise, or not in float/bool
    terms)."""
    op_name, attrs, in_dtypes, out_dtype = key
    op = get_op(op_name)
    floats = [d in FLOATS for d in in_dtypes]
    if op.is_pointwise:
        if op_name in COMPARE_OPS:  # of any dtype C has (not float16: no C type)
            if "float16" in in_dtypes:
                return None
            return op.formula(*args) if callable(op.formula) else None
        if out_dtype not in FLOATS or not all(floats):
            return None
        syms = symbolic.arg_symbols(len(in_dtypes))
        f = symbolic.formula(op_name, attrs, (None,) * len(in_dtypes))
        return f.xreplace(dict(zip(syms, args)))
    if op_name == "where" and out_dtype in FLOATS and all(floats[1:]):
        return sympy.Piecewise((args[1], _as_condition(args[0])), (args[2], True))
    if op_name == "cast" and out_dtype in FLOATS and in_dtypes[0] == "bool":
        return sympy.Piecewise((1, _as_condition(args[0])), (0, True))
    return None


def node_expr(e: Eqn, args: list[sympy.Basic]) -> sympy.Basic | None:
    """The equation as a sympy expression of its operands' expressions, or None when the
    equation is not one the kernels compute."""
    return _node_formula(_node_key(e), args)


@lru_cache(maxsize=None)
def _fusable(key: NodeKey) -> bool:
    return _node_formula(key, list(symbolic.arg_symbols(len(key[2])))) is not None


# A region's structure, as the builder walks it: LEAF (the next operand, in order),
# ("num", value) (a pow's literal exponent), or (node key, *operand structures).
LEAF = "L"


@lru_cache(maxsize=8192)
def _expr_of_structure(structure: tuple) -> sympy.Basic:
    """The region's expression over x0..xn (its leaves in order). Built once per distinct
    structure: a model's layers repeat the same regions, and sympy is the slow part."""
    leaves = count()

    def build(st: object) -> sympy.Basic:
        if st is LEAF:
            return sympy.Symbol(f"x{next(leaves)}", real=True)
        if st[0] == "num":  # type: ignore[index]
            return symbolic.literal_number(st[1])  # type: ignore[index]
        key, *operands = st  # type: ignore[misc]
        got = _node_formula(key, [build(o) for o in operands])
        assert got is not None, key  # the builder checked _fusable
        return got

    return build(structure)


Leaf = tuple[Atom, tuple[int, ...]]  # value, the shape it is read as


def _unit_reshape(e: Eqn) -> bool:
    """A reshape that only adds or drops size-1 dims: the same buffer, read as the new shape."""
    if e.op != "reshape" or not isinstance(e.inputs[0], Var):
        return False
    return [n for n in e.inputs[0].shape if n != 1] == [n for n in e.outputs[0].shape if n != 1]


# A region is at most this many equations, counted as the expression is expanded (a
# value read twice inside it counts twice). Producers are inlined into their consumers,
# so without a bound a value used twice per step of a long chain (a layer norm's or a
# GELU's backward, repeated per layer) expands to a tree exponential in the chain's
# length; past the bound the value is materialized instead: it becomes its own region.
MAX_REGION_OPS = 64


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.producer = {o: e for e in graph.eqns for o in e.outputs}
        self.outputs = {a for a in graph.outputs if isinstance(a, Var)}
        self.uses: Counter[Var] = Counter(
            a for e in graph.eqns for a in e.inputs if isinstance(a, Var))

    def _inlinable(self, a: Atom, inline: Callable[[Var], bool]) -> Eqn | None:
        p = self.producer.get(a) if isinstance(a, Var) else None
        if p is not None and len(p.outputs) == 1 and inline(a) and _fusable(_node_key(p)):
            return p
        return None

    def reads_one_array(self, small: int) -> Callable[[Var], bool]:
        """`one(v)`: does computing `v` from its pointwise producers read at most one
        array of more than `small` elements? Then a reduction recomputes `v` where it
        reads it (softmax's exp(x - max), a layer norm's x - mean) instead of reading it
        back; a value built from several arrays (a residual stream summed over layers) is
        read where it is: recomputing it reads more memory than it saves. Memoized, and
        cut off after MAX_REGION_OPS values."""
        memo: dict[Var, frozenset | None] = {}
        seen = [0]

        def arrays(a: Atom) -> frozenset | None:
            if not isinstance(a, Var):
                return frozenset()
            if a in memo:
                return memo[a]
            seen[0] += 1
            if seen[0] > MAX_REGION_OPS:
                return None
            p = self.producer.get(a)
            got: frozenset | None
            if p is not None and len(p.outputs) == 1 and _fusable(_node_key(p)):
                got = frozenset()
                for x in p.inputs:
                    more = arrays(x)
                    got = None if more is None or got is None else got | more
                    if got is None or len(got) > 1:
                        got = None
                        break
            elif p is not None and p.op == "broadcast_to":
                got = arrays(p.inputs[0])
            else:
                got = frozenset((a,)) if a.type.numel > small else frozenset()
            memo[a] = got
            return got

        return lambda v: arrays(v) is not None

    def _sizes(self, inline: Callable[[Var], bool], cap: int) -> Callable[[Atom], int]:
        """`size(v)`: how many equations inlining `v` brings into a region, capped at
        `cap`. Memoized per tree and cut off at the cap, so the walk visits at most
        about `cap` values however large the pointwise cone above the root."""
        memo: dict[Var, int] = {}

        def size(a: Atom) -> int:
            if not isinstance(a, Var):
                return 0
            got = memo.get(a)
            if got is not None:
                return got
            p = self._inlinable(a, inline)
            n = 0
            if p is not None:
                n = 1
                for x in p.inputs:
                    n += size(x)
                    if n >= cap:
                        n = cap
                        break
            else:
                q = self.producer.get(a)
                if q is not None and q.op == "broadcast_to":
                    n = size(q.inputs[0])
            memo[a] = n
            return n

        return size

    def tree(self, root: Eqn, inline: Callable[[Var], bool], budget: int = MAX_REGION_OPS
             ) -> tuple[sympy.Basic, list[Leaf], list[Eqn]] | None:
        """`root` as one expression over x0..xn, its leaves in order, inlining producers
        `inline` allows while the region stays within `budget` equations (a producer that
        does not fit is a leaf: its value is materialized). Broadcasts and size-1
        reshapes are read in place: the leaf is their operand, read through the strides
        of the shape it had (no copy of a broadcast operand). The walk is plain Python;
        sympy builds the expression once per distinct structure."""
        if not _fusable(_node_key(root)):
            return None
        # literals are leaves (symbols printed as constants): substituted as numbers,
        # sympy would fold x*0 to 0 (wrong for inf and nan) and min(max(x, 1), -1) to -1
        # (wrong for nan); only a pow's exponent is substituted
        leaves: list[Leaf] = []
        absorbed: list[Eqn] = []
        size = self._sizes(inline, budget + 1)
        left = budget - 1  # the root is one equation

        def visit(a: Atom, in_pow_exponent: bool = False) -> object:
            nonlocal left
            if (isinstance(a, Literal) and in_pow_exponent and a.value != 0
                    and math.isfinite(a.value)):
                return ("num", a.value)  # x**3 prints as x*x*x
            p = self._inlinable(a, inline)
            # a producer whose whole tree fits is inlined; one that does not is still
            # inlined when it has no other reader (its children then decide one by one):
            # the cut falls on shared values, which are materialized, not re-expanded
            if p is not None and left > 0 and (size(a) <= left or self.uses[a] == 1):
                left -= 1
                absorbed.append(p)
                return structure(p)
            p = self.producer.get(a) if isinstance(a, Var) else None
            if p is not None and p.op == "broadcast_to":
                # the operand read in place, through stride-0 dims, or computed where read
                # (right-aligned broadcasting composes, so its leaves broadcast as it did)
                return visit(p.inputs[0])
            shape = a.shape
            while p is not None and _unit_reshape(p):
                a = p.inputs[0]  # the same buffer, read as `shape`
                p = self.producer.get(a)
            # every use is its own leaf: x/x must stay x0/x1 (nan at 0), not 1
            leaves.append((a, tuple(shape)))
            return LEAF

        def structure(e: Eqn) -> tuple:
            return (_node_key(e), *(visit(a, e.op == "pow" and i == 1)
                                    for i, a in enumerate(e.inputs)))

        return _expr_of_structure(structure(root)), leaves, absorbed


def _region_attrs(base: dict, expr: sympy.Basic, leaves: list[Leaf]) -> tuple:
    attrs = dict(base)
    attrs["expr"] = expr
    attrs["shapes"] = tuple(shape for _, shape in leaves)
    return freeze_attrs(attrs)


def fuse_reductions(graph: Graph, threshold: int) -> tuple[Graph, set[Var]]:
    """Reductions take in the pointwise trees producing their operands. Returns the new
    graph and the outputs of the fused reductions (their eqns carry `expr`, the leaves'
    `shapes` and the reduced operand's shape as `in_shape`)."""
    b = _Builder(graph)
    uses = b.uses
    fused: set[Var] = set()
    eqns: list[Eqn] = []
    for e in graph.eqns:
        x = e.inputs[0] if e.inputs else None
        if (e.op in REDUCE_OPS and isinstance(x, Var) and _is_float(x) and x.type.numel >= threshold
                and 0 not in x.shape):
            ident = Eqn("pointwise", (x,), (Var(x.type, "t"),),
                        freeze_attrs({"expr": symbolic.arg_symbols(1)[0], "dtype": x.dtype}))
            one_array = b.reads_one_array(x.type.numel // 8)
            got = b.tree(ident, inline=lambda v: uses[v] == 1 or one_array(v))
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
                e = Eqn(e.op, tuple(v for v, _ in leaves), outputs,
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
    b = _Builder(graph)
    uses = b.uses
    regions: dict[int, Eqn] = {}
    kernels: set[Var] = set()
    # values something still reads: the graph's outputs, the operands of equations kept
    # as they are, the leaves of the regions formed so far
    needed: set[Var] = set(b.outputs)

    def keep(e: Eqn) -> None:
        needed.update(a for a in e.inputs if isinstance(a, Var))

    # consumers first: a region swallows its single-use producers before they are visited,
    # and a value every reader has inlined is not computed again on its own
    for i in range(len(graph.eqns) - 1, -1, -1):
        e = graph.eqns[i]
        if len(e.outputs) != 1:
            keep(e)
            continue
        out = e.outputs[0]
        if out not in needed:
            continue  # dead, or inlined by all its readers (DCE drops it)
        if not _is_float(out) or out.type.numel < threshold or out.type.numel == 0:
            keep(e)
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
            keep(e)
            continue
        expr, leaves, absorbed = got
        needed.update(v for v, _ in leaves if isinstance(v, Var))
        regions[id(e)] = Eqn("pointwise", tuple(v for v, _ in leaves), e.outputs,
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
