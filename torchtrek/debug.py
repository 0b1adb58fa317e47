"""tt.debug.compare: find where a compiled function's numbers go wrong.

It runs the function three ways (compiled, eager, and a float64 reference that replays
the traced graph op by op in double precision) and reports the first IR node whose
float32 value differs from the float64 reference by more than the tolerance, with the
user's source line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import autograd
from .ir.graph import Literal, Var
from .ir.printer import value_names


@dataclass
class Divergence:
    node: str  # the IR value's name
    op: str
    where: str  # user source location
    max_abs_error: float
    max_rel_error: float

    def __str__(self) -> str:
        return (f"first divergence at %{self.node} = {self.op} ({self.where}): max abs error "
                f"{self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}")


@dataclass
class Report:
    outputs_match: bool  # compiled vs eager
    max_output_error: float  # compiled vs float64 reference
    divergence: Divergence | None
    nodes_checked: int

    def __str__(self) -> str:
        lines = [f"compiled vs eager outputs: {'match' if self.outputs_match else 'DIFFER'}",
                 f"compiled vs float64 reference: max abs error {self.max_output_error:.3g}",
                 f"checked {self.nodes_checked} IR nodes against float64"]
        lines.append(str(self.divergence) if self.divergence else "no node diverges beyond tolerance")
        return "\n".join(lines)


def _run_graph(graph: Any, inputs: list[np.ndarray], dtype_map: Callable[[Any], Any]) -> dict[Var, np.ndarray]:
    """Replay `graph` op by op through the eager kernels, optionally in float64."""
    from ._dispatch import bind
    from .tensor import Tensor

    env: dict[Var, Any] = {v: Tensor._wrap(dtype_map(a)) for v, a in zip(graph.inputs, inputs)}
    for e in graph.eqns:
        args = []
        for a in e.inputs:
            if isinstance(a, Literal):
                args.append(Literal(a.value, _widen(a.dtype)) if dtype_map is _to64 else a)
            else:
                args.append(env[a])
        attrs = dict(e.attrs)
        if dtype_map is _to64:
            attrs = {k: (_widen(v) if k == "dtype" else v) for k, v in attrs.items()}
        env[e.outputs[0]] = bind(e.op, args, attrs)
    return {v: t._data for v, t in env.items()}


def _widen(d: Any) -> Any:
    from .ir import dtypes

    return dtypes.float64 if getattr(d, "is_floating_point", False) else d


def _to64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def _same(a: np.ndarray) -> np.ndarray:
    return a


def compare(fn: Callable[..., Any], *args: Any, rtol: float = 1e-4, atol: float = 1e-5) -> Report:
    """Run `fn` compiled, eagerly and as a float64 replay; report the first diverging node."""
    from .compiler import CompiledFunction, _pick, trace_function
    from .ir.passes import optimize
    from .tensor import Tensor

    with autograd.no_grad():
        compiled = fn if isinstance(fn, CompiledFunction) else CompiledFunction(fn)
        out_c = compiled(*args)
        raw = fn.fn if isinstance(fn, CompiledFunction) else fn
        out_e = raw(*args)
        ctx, atoms, _, tensor_pos = trace_function(raw, args, {})
        graph = optimize(ctx.graph(atoms))
        inputs = [_pick(args, i)._data for i in tensor_pos] + [t._data for t, _ in ctx.captured]
        values32 = _run_graph(graph, inputs, _same)
        values64 = _run_graph(graph, inputs, _to64)

    def flat(o: Any) -> list[np.ndarray]:
        if isinstance(o, Tensor):
            return [o._data]
        return [x._data for x in o if isinstance(x, Tensor)] if isinstance(o, (list, tuple)) else []

    outs_c, outs_e = flat(out_c), flat(out_e)
    match = len(outs_c) == len(outs_e) and all(
        np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True) for a, b in zip(outs_c, outs_e))
    ref_outs = [values64[a] if isinstance(a, Var) else None for a in graph.outputs]
    max_err = max((float(np.max(np.abs(a.astype(np.float64) - r))) if a.size else 0.0
                   for a, r in zip(outs_c, ref_outs) if r is not None), default=0.0)
    names = value_names(graph, code=False)
    divergence = None
    checked = 0
    for e in graph.eqns:
        v = e.outputs[0]
        if not v.dtype.is_floating_point:
            continue
        checked += 1
        lo, hi = values32[v].astype(np.float64), values64[v]
        finite = np.isfinite(hi)
        if not finite.any():
            continue
        err = np.abs(lo - hi)[finite]
        bad = err > atol + rtol * np.abs(hi[finite])
        if bad.any() or (np.isfinite(lo) != finite).any():
            rel = err / np.maximum(np.abs(hi[finite]), 1e-30)
            divergence = Divergence(names[v], e.op, str(e.loc) if e.loc else "?",
                                    float(err.max()), float(rel.max()))
            break
    return Report(match, max_err, divergence, checked)
