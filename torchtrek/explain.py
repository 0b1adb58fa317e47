"""tt.explain: each pointwise region of a function and its derivatives, in math form."""

from __future__ import annotations

import re
from typing import Any, Callable

import sympy

from .ir.fusion import fuse_pointwise, region_expr
from .ir.graph import Var
from .ir.opdef import get_op
from .ir.printer import value_names

_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=[^=]")


def _display_name(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def explain(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Trace `fn`, fuse its pointwise chains and print each region's formula and the
    symbolic derivative with respect to each of its float inputs (simplified by sympy).

    For the seed example `y = x ** 2 + 3 * x + 5` it says `dy/dx = 2*x + 3`."""
    from .compiler import trace

    graph = fuse_pointwise(trace(fn, *args, **kwargs))
    names = value_names(graph)
    lines = [f"{graph.name}: {sum(1 for e in graph.eqns if get_op(e.op).is_pointwise)} pointwise region(s)"]
    for e in graph.eqns:
        out = e.outputs[0]
        if not get_op(e.op).is_pointwise or not out.dtype.is_floating_point:
            continue
        m = _ASSIGN.match(e.loc.code) if e.loc else None
        out_name = m.group(1) if m else names[out]
        leaves = [a for a in e.inputs if isinstance(a, Var)]
        from .ir import symbolic

        syms = symbolic.arg_symbols(len(e.inputs))
        var_syms = {s: _display_name(names[a]) for s, a in zip(syms, e.inputs) if isinstance(a, Var)}
        expr = region_expr(e).xreplace(var_syms)
        where = f"  ({e.loc})" if e.loc else ""
        lines.append(f"\n{out_name} = {expr}{where}")
        seen: set[str] = set()
        for leaf in leaves:
            if not leaf.dtype.is_floating_point or names[leaf] in seen:
                continue
            seen.add(names[leaf])
            d = sympy.simplify(sympy.diff(expr, _display_name(names[leaf])))
            lines.append(f"  d{out_name}/d{names[leaf]} = {d}")
    return "\n".join(lines)
