"""Rematerialization: a residual the backward graph needs is recomputed there instead of
saved, when that is cheaper: when it comes from a few cheap ops (compares, casts,
arithmetic, iota, reshapes, broadcasts) over values that are much smaller than it. A
cross-entropy's one-hot mask (bool[4096,1000]) is rebuilt from the targets (i64[4096])
instead of being written out by the forward and read back by the backward."""

from __future__ import annotations

from .graph import Eqn, Graph, Literal, Var
from .symdims import numel_hint

CHEAP_OPS = ("iota", "reshape", "broadcast_to", "cast", "where", "detach")
MAX_EQNS = 6  # recomputed per residual at most
GAIN = 4  # the residual must be this many times bigger than what replaces it


_ARITH = ("add", "sub", "mul", "neg", "gt", "lt", "ge", "le", "eq", "ne")


def _cheap(e: Eqn) -> bool:
    """Movement, casts, selects, and arithmetic without transcendental functions."""
    return e.op in CHEAP_OPS or e.op in _ARITH


def rematerialize(forward: Graph, residuals: list[Var]) -> tuple[list[Eqn], list[Var]]:
    """(equations the backward should run first, the residuals it then needs)."""
    producer = {o: e for e in forward.eqns for o in e.outputs}
    prologue: list[Eqn] = []
    needed: list[Var] = []
    for r in residuals:
        chain: list[Eqn] = []
        leaves: list[Var] = []

        def collect(v: Var) -> bool:
            p = producer.get(v)
            if p is None or v in residuals and v is not r:
                if v not in leaves:
                    leaves.append(v)
                return True
            if not _cheap(p) or len(chain) >= MAX_EQNS:
                return False
            for a in p.inputs:
                if isinstance(a, Var) and not collect(a):
                    return False
            if p not in chain:
                chain.append(p)
            return True

        if collect(r) and chain and sum(numel_hint(v.shape) for v in leaves) * GAIN <= numel_hint(r.shape):
            for e in chain:
                if e not in prologue:
                    prologue.append(e)
            needed.extend(v for v in leaves if v not in needed)
        elif r not in needed:
            needed.append(r)
    # a value both recomputed and still needed as a residual: keep it saved
    computed = {o for e in prologue for o in e.outputs}
    needed = [v for v in needed if v not in computed]
    return prologue, needed


__all__ = ["rematerialize"]
