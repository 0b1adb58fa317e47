"""Pointwise fusion: chains of float pointwise equations become one `pointwise`
equation whose sympy expression is the composition (PyTensor's Composite, in spirit).

A producer folds into its consumer when the consumer is its only user, both are
pointwise with the same float dtype, and the producer is not a graph output.

With `duplicate` (the GPU, where a kernel is bound by memory, not arithmetic), a small
producer with several pointwise users folds into each of them: recomputing
`tanh(x)` in two consumers is free there, writing it out and reading it back twice is
not. It stays as its own equation only while a user that cannot fold it remains.
"""

from __future__ import annotations

from collections import Counter
from itertools import count

import sympy

from . import symbolic
from .graph import Eqn, Graph, Literal, Var, freeze_attrs
from .opdef import get_op


def _expr_of(eqn: Eqn) -> sympy.Expr:
    return symbolic.formula(eqn.op, eqn.attrs, symbolic.literal_key(eqn))


DUPLICATE_MAX_OPS = 24  # a producer recomputed in several consumers: at most this big


def fuse_pointwise(graph: Graph, duplicate: bool = False) -> Graph:
    uses: Counter[Var] = Counter()
    for e in graph.eqns:
        uses.update(a for a in e.inputs if isinstance(a, Var))
    outputs = {a for a in graph.outputs if isinstance(a, Var)}
    # value -> (its expression over leaf symbols, [(leaf value, leaf symbol)])
    regions: dict[Var, tuple[sympy.Expr, list[tuple[Var, sympy.Symbol]]]] = {}
    producer: dict[Var, Eqn] = {}
    out_eqns: list[Eqn] = []
    fresh = count()
    for e in graph.eqns:
        out = e.outputs[0]
        if not (get_op(e.op).is_pointwise and out.dtype.is_floating_point):
            out_eqns.append(e)
            continue
        syms = symbolic.arg_symbols(len(e.inputs))
        leaves: list[tuple[Var, sympy.Symbol]] = []
        subs: dict[sympy.Symbol, sympy.Expr] = {}
        absorbed: list[Eqn] = []
        inlined = False
        for s, a in zip(syms, e.inputs):
            if isinstance(a, Literal):
                subs[s] = symbolic.literal_number(a.value)
            elif a in regions and a not in outputs and a.dtype is out.dtype and (
                    uses[a] == 1 or duplicate and sympy.count_ops(regions[a][0]) <= DUPLICATE_MAX_OPS):
                inner, inner_leaves = regions[a]
                # a duplicated producer's leaves get fresh symbols in each consumer
                fresh_subs = {leaf: sympy.Symbol(f"_leaf{next(fresh)}", real=True)
                              for _, leaf in inner_leaves} if uses[a] > 1 else {}
                subs[s] = inner.xreplace(fresh_subs) if fresh_subs else inner
                leaves.extend((v, fresh_subs.get(leaf, leaf)) for v, leaf in inner_leaves)
                uses[a] -= 1
                inlined = True
                if uses[a] == 0:  # its last user: the producer's own equation goes
                    absorbed.append(producer[a])
            else:
                # every use is its own leaf: x/x must stay x0/x1 (nan at 0), not 1
                leaf = sympy.Symbol(f"_leaf{next(fresh)}", real=True)
                leaves.append((a, leaf))
                subs[s] = leaf
        expr = symbolic.formula(e.op, e.attrs, (None,) * len(e.inputs)).xreplace(subs)
        regions[out] = (expr, leaves)
        for p in absorbed:
            out_eqns.remove(p)
        if inlined:
            new_syms = symbolic.arg_symbols(len(leaves))
            final = expr.xreplace({leaf: s for (_, leaf), s in zip(leaves, new_syms)})
            producer[out] = Eqn("pointwise", tuple(v for v, _ in leaves), e.outputs,
                                freeze_attrs({"expr": final, "dtype": out.dtype}), e.loc)
        else:
            producer[out] = e
        out_eqns.append(producer[out])
    return Graph(graph.name, graph.inputs, out_eqns, graph.outputs, graph.meta)


def region_expr(eqn: Eqn) -> sympy.Expr:
    """The formula of a (possibly fused) pointwise equation over x0..xn."""
    return _expr_of(eqn)


__all__ = ["fuse_pointwise", "region_expr"]
