"""Memory plan of the NumPy backend: which values live in reusable scratch buffers.

A value computed by an in-place ufunc chain (codegen/numpy/inplace.py) writes into a
buffer. Buffers belong to the generated function and persist across calls, so a loop
calling it does not page-fault fresh megabytes every time; within a call a buffer is
handed to a later value once every value that may share its memory is dead.

What may share memory is decided conservatively: any equation that is not such a chain
(a reshape, a transpose, a broadcast, an identity formula) may return a view of its
inputs. Values that reach the function's outputs through such views never use a buffer:
the caller keeps its results, and the next call must not overwrite them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...ir.graph import Graph, TensorType, Var

# ops whose NumPy emitters always return a new array (never a view of an operand)
_FRESH = frozenset({"sum", "amax", "amin", "matmul"})


@dataclass
class MemoryPlan:
    slot_of: dict[int, int | None] = field(default_factory=dict)  # eqn index -> buffer (None: fresh)
    slots: list[TensorType] = field(default_factory=list)  # each buffer's type


def last_uses(graph: Graph) -> dict[Var, int]:
    """The index of the last equation that reads each value."""
    last_use: dict[Var, int] = {}
    for i, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var):
                last_use[a] = i
    return last_use


def plan(graph: Graph, inplace: set[int], last_use: dict[Var, int],
         persistent: bool = True) -> MemoryPlan:
    """Buffers for the single outputs of the equations in `inplace` (by index), given
    each value's last use; with `persistent` False, none (each chain's first call
    allocates its result)."""
    eqns = graph.eqns
    escaping = {a for a in graph.outputs if isinstance(a, Var)}
    for i in range(len(eqns) - 1, -1, -1):
        e = eqns[i]
        if i not in inplace and e.op not in _FRESH and any(o in escaping for o in e.outputs):
            escaping.update(a for a in e.inputs if isinstance(a, Var))
    keep = set(graph.inputs) | escaping
    result = MemoryPlan()
    alias: dict[Var, frozenset[int]] = {}
    refs: dict[int, int] = {}
    free: dict[TensorType, list[int]] = {}

    def hold(v: Var, slots: frozenset[int]) -> None:
        alias[v] = slots
        for s in slots:
            refs[s] = refs.get(s, 0) + 1

    def drop(v: Var) -> None:
        for s in sorted(alias.pop(v, ())):
            refs[s] -= 1
            if refs[s] == 0:
                free.setdefault(result.slots[s], []).append(s)

    for i, e in enumerate(eqns):
        if i in inplace:
            out = e.outputs[0]
            if out in escaping or not persistent:
                result.slot_of[i] = None
                hold(out, frozenset())
            else:
                pool = free.get(out.type)
                if pool:
                    slot = pool.pop()
                else:
                    slot = len(result.slots)
                    result.slots.append(out.type)
                result.slot_of[i] = slot
                hold(out, frozenset((slot,)))
        elif e.op in _FRESH:
            for o in e.outputs:
                hold(o, frozenset())
        else:
            shared = frozenset().union(*(alias.get(a, frozenset()) for a in e.inputs
                                         if isinstance(a, Var)))
            for o in e.outputs:
                hold(o, shared)
        for a in dict.fromkeys(e.inputs):
            if isinstance(a, Var) and last_use.get(a) == i and a not in keep:
                drop(a)
        for o in e.outputs:
            if o not in last_use and o not in keep:
                drop(o)
    return result


__all__ = ["MemoryPlan", "last_uses", "plan"]
