"""Rematerialization: a residual the backward graph needs is recomputed there instead of
saved, when that is cheaper: when it comes from a few cheap ops (compares, casts,
arithmetic, iota, reshapes, broadcasts) over values that are much smaller than it. A
cross-entropy's one-hot mask (bool[4096,1000]) is rebuilt from the targets (i64[4096])
instead of being written out by the forward and read back by the backward.

For a memory-bound device (the GPU) any pointwise chain is cheap: recomputing
`tanh(2x + 1)` from an `x` the backward reads anyway costs arithmetic the kernel hides
under its loads, while saving it costs a write in the forward and a read in the
backward (what torch.compile's min-cut partitioner also decides)."""

from __future__ import annotations

from .graph import Eqn, Graph, Literal, Var
from .opdef import get_op
from .symdims import numel_hint

CHEAP_OPS = ("iota", "reshape", "broadcast_to", "cast", "where", "detach")
MAX_EQNS = 6  # recomputed per residual at most
GAIN = 4  # the residual must be this many times bigger than what replaces it


_ARITH = ("add", "sub", "mul", "neg", "gt", "lt", "ge", "le", "eq", "ne")


def _cheap(e: Eqn, any_pointwise: bool = False) -> bool:
    """Movement, casts, selects, and arithmetic without transcendental functions (with
    `any_pointwise`, every pointwise op)."""
    if e.op in CHEAP_OPS or e.op in _ARITH:
        return True
    return any_pointwise and get_op(e.op).is_pointwise


def rematerialize(forward: Graph, residuals: list[Var], memory_bound: bool = False
                  ) -> tuple[list[Eqn], list[Var]]:
    """(equations the backward should run first, the residuals it then needs).
    `memory_bound`: recompute any pointwise chain whose leaves add no more bytes to
    read than the residual it replaces (leaves the backward reads anyway are free)."""
    producer = {o: e for e in forward.eqns for o in e.outputs}
    prologue: list[Eqn] = []
    needed: list[Var] = []
    if memory_bound:  # what cannot be recomputed is read anyway: decide those first
        residuals = sorted(residuals, key=lambda v: v in producer)
    for r in residuals:
        chain: list[Eqn] = []
        leaves: list[Var] = []

        def collect(v: Var) -> bool:
            p = producer.get(v)
            if p is None or v in residuals and v is not r:
                if v not in leaves:
                    leaves.append(v)
                return True
            if not _cheap(p, memory_bound) or len(chain) >= MAX_EQNS:
                return False
            for a in p.inputs:
                if isinstance(a, Var) and not collect(a):
                    return False
            if p not in chain:
                chain.append(p)
            return True

        cheaper = collect(r) and bool(chain)
        if cheaper and memory_bound:
            cheaper = sum(numel_hint(v.shape) for v in leaves if v not in needed) <= numel_hint(r.shape)
        elif cheaper:
            cheaper = sum(numel_hint(v.shape) for v in leaves) * GAIN <= numel_hint(r.shape)
        if cheaper:
            for e in chain:
                if e not in prologue:
                    prologue.append(e)
            needed.extend(v for v in leaves if v not in needed)
        elif r not in needed:
            needed.append(r)
    # a value both recomputed and still needed as a residual: keep it saved
    computed = {o for e in prologue for o in e.outputs}
    position = {e: j for j, e in enumerate(forward.eqns)}
    prologue.sort(key=position.__getitem__)  # one chain may read another's result
    needed = [v for v in needed if v not in computed]
    return prologue, needed


__all__ = ["rematerialize"]
