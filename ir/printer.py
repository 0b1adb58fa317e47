"""The IR text form: one equation a line, typed, with stable names.

    graph f(%x: f32[3]) {
      %pow: f32[3] = pow %x, 2:i64        # seed.py:4: y = x ** 2 + 3 * x + 5
      return %pow
    }

Names come from value hints (argument names, op names), made unique in definition
order, so the same graph always prints the same text.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Any

import sympy

from .dtypes import DType
from .graph import Atom, Graph, Literal, TensorType, Var, _SHORT
from .symdims import is_size_name

# Names generated code must not shadow: modules, and builtins an emitter may call.
RESERVED = {"np", "numpy", "math", "self", "None", "True", "False", "slice", "range", "len",
            "tuple", "list", "int", "float", "bool", "type", "isinstance", "getattr"}


def _identifier(hint: str, dots: bool = False) -> str:
    name = re.sub(r"[^\w.]" if dots else r"\W", "_", hint) or "t"
    if dots:
        name = ".".join(p or "_" for p in name.split("."))
    if name[0].isdigit() and not dots:  # IR names may start with a digit: %0.weight
        name = "t" + name
    if keyword.iskeyword(name) or name in RESERVED:
        name += "_"
    return name


def value_names(graph: Graph, code: bool = True,
                reserved: frozenset[str] = frozenset()) -> dict[Var, str]:
    """Unique, stable names in definition order. The IR text keeps dotted module names
    (`fc1.weight`); code names are Python identifiers (`fc1_weight`)."""
    names: dict[Var, str] = {}
    taken: dict[str, int] = {r: 1 for r in reserved}
    for v in graph.vars_defined():
        if v in names:
            continue
        base = _identifier(v.hint, dots=not code)
        n = taken.get(base, 0)
        name = base if n == 0 else f"{base}_{n}"
        while name in taken:  # "add_1" the user's own name, say
            n += 1
            name = f"{base}_{n}"
        taken[base] = n + 1
        taken.setdefault(name, 1)
        names[v] = name
    return names


def pin_names(graph: Graph) -> None:
    """Make every value's hint the name the IR text gives it. A graph read back from
    its text (the disk cache) has exactly these hints; a freshly traced one must too, or
    a later pass that drops values (fusion keeps the last `add_1` of a chain, whose hint
    is still `add`) would name the generated code differently on a cache hit."""
    for v, name in value_names(graph, code=False).items():
        v.hint = name


def format_attr(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # inf, -inf, nan: the parser reads these words back
    if isinstance(value, DType):
        return _SHORT[value.name]
    if isinstance(value, sympy.Basic):
        if value.is_Number and value.free_symbols == set():
            return format_attr(int(value) if value.is_Integer else float(value))
        if value.free_symbols and all(is_size_name(x.name) for x in value.free_symbols):
            return str(value)  # a symbolic size (dynamic=True): s0, 784*s0
        return '"' + str(value) + '"'
    if isinstance(value, tuple):
        inner = ", ".join(format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def format_atom(a: Atom, names: dict[Var, str]) -> str:
    if isinstance(a, Literal):
        return str(a)
    return "%" + names.get(a, "?" + a.hint)


def print_graph(graph: Graph) -> str:
    names = value_names(graph, code=False)
    params = ", ".join(f"%{names[v]}: {v.type}" for v in graph.inputs)
    lines = [f"graph {graph.name}({params}) {{"]
    # the conditions on the sizes a shape-generic graph was traced under (ir/symint.py)
    lines += [f"  guard {g}" for g in graph.meta.get("guards", ())]
    body = []
    for e in graph.eqns:
        outs = ", ".join(f"%{names[o]}: {o.type}" for o in e.outputs)
        attrs = ", ".join(f"{k}={format_attr(v)}" for k, v in e.attrs)
        op = f"{e.op}[{attrs}]" if attrs else e.op
        args = ", ".join(format_atom(a, names) for a in e.inputs)
        text = f"  {outs} = {op} {args}".rstrip()
        body.append((text, f"# {e.loc}" if e.loc else ""))
    width = max((len(t) for t, c in body if c), default=0)
    for text, comment in body:
        lines.append(f"{text.ljust(width)}  {comment}".rstrip() if comment else text)
    lines.append("  return " + ", ".join(format_atom(a, names) for a in graph.outputs))
    lines.append("}")
    return "\n".join(lines)


def format_type(t: TensorType) -> str:
    return str(t)
