"""Symbolic sizes: the dimensions of a shape-generic graph (`tt.compile(dynamic=True)`).

A dynamic dimension is a sympy symbol `s0, s1, ...` (a positive integer); shapes and
shape attributes hold polynomials in them (`s0`, `784*s0`). Arguments' dimensions are
"duck sized" as torch does: dimensions of equal size share one symbol, sizes 0 and 1 stay
constants (they change broadcasting). The generated NumPy code reads each symbol from an
input's shape (`s0 = x.shape[0]`); the C backend prints kernels per concrete size.

Decisions the code generators make from sizes (is this big enough for a kernel, for
threads?) use a hint: the sizes of the call that traced the graph (`size_hint`).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import sympy

from .._state import thread as _thread
from .graph import Eqn, Graph, Literal, TensorType, Var

_NAME = re.compile(r"^s\d+$")


def size_symbol(i: int) -> sympy.Symbol:
    return sympy.Symbol(f"s{i}", integer=True, positive=True)


def is_symbolic(d: Any) -> bool:
    return isinstance(d, sympy.Basic) and not d.is_Number


def is_size_name(name: str) -> bool:
    return bool(_NAME.match(name))


def parse_size(text: str) -> Any:
    """A dimension as printed (`8`, `s0`, `784*s0`), or a literal made from sizes (`1/s0`),
    back to an int or a sympy expression."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    names = set(re.findall(r"[A-Za-z_]\w*", text))
    if not names or not all(is_size_name(n) for n in names) or not re.fullmatch(r"[\w\s*+\-()/.]+", text):
        raise ValueError(f"bad size {text!r}")
    return sympy.sympify(text, locals={n: size_symbol(int(n[1:])) for n in names})


def free_sizes(graph: Graph) -> set[sympy.Symbol]:
    out: set[sympy.Symbol] = set()

    def visit(x: Any) -> None:
        if isinstance(x, sympy.Basic):
            out.update(s for s in x.free_symbols if is_size_name(s.name))
        elif isinstance(x, tuple):
            for y in x:
                visit(y)

    for v in graph.vars_defined():
        visit(v.type.shape)
    for e in graph.eqns:
        for _, val in e.attrs:
            visit(val)
        for a in e.inputs:
            if isinstance(a, Literal):
                visit(a.value)
    return out


def in_order(sizes: Any) -> list[sympy.Symbol]:
    """Size symbols sorted by number (s2 before s10), as generated code lists them."""
    return sorted(sizes, key=lambda s: int(s.name[1:]))


def sources(graph: Graph) -> dict[sympy.Symbol, tuple[int, int]]:
    """For each size symbol, an (input index, dimension) whose size is that symbol."""
    found: dict[sympy.Symbol, tuple[int, int]] = {}
    for i, v in enumerate(graph.inputs):
        for d, s in enumerate(v.type.shape):
            if isinstance(s, sympy.Symbol):
                found.setdefault(s, (i, d))
    return found


def _printable(x: Any) -> bool:
    if isinstance(x, sympy.Basic):
        return not x.atoms(sympy.Function)
    if type(x) is tuple:
        return all(_printable(y) for y in x)
    return True


def check_printable(graph: Graph) -> None:
    """TypeError unless every symbolic size of `graph` is a polynomial and every size-made
    literal or attribute plain arithmetic, which generated code prints as it is
    (floor(s0/2), Mod(1, s0) of x.shape[0] // 2 or a roll along s0 are not)."""
    for v in graph.vars_defined():
        for n in v.type.shape:
            if is_symbolic(n) and not n.is_polynomial():
                raise TypeError(f"size {n} of {v.hint} is not a polynomial in the sizes")
    for e in graph.eqns:
        for x in [a.value for a in e.inputs if isinstance(a, Literal)] + [
                val for k, val in e.attrs if k != "expr"]:
            if not _printable(x):
                raise TypeError(f"{e.op}: {x} is not plain arithmetic of the sizes")


def plain(x: Any) -> Any:
    """sympy numbers (a size that came out constant, s0 - s0 + 1) as Python ones, so
    they print, hash and compare like the sizes of an ordinary graph."""
    if isinstance(x, sympy.Basic):
        return int(x) if x.is_Integer else float(x) if x.is_Number else x
    if type(x) is tuple:
        return tuple(plain(y) for y in x)
    return x


def has_sympy(x: Any) -> bool:
    return isinstance(x, sympy.Basic) or (type(x) is tuple and any(has_sympy(y) for y in x))


def _subs(x: Any, binding: dict[sympy.Symbol, int]) -> Any:
    if isinstance(x, sympy.Basic):
        return plain(x.subs(binding) if x.free_symbols else x)
    if isinstance(x, tuple):
        return tuple(_subs(y, binding) for y in x)
    return x


def substitute(graph: Graph, binding: dict[sympy.Symbol, int]) -> Graph:
    """`graph` with the sizes of one call: an ordinary graph of int shapes."""
    vars_: dict[Var, Var] = {}

    def var(v: Var) -> Var:
        if v not in vars_:
            vars_[v] = Var(TensorType(_subs(v.type.shape, binding), v.type.dtype), v.hint)
        return vars_[v]

    def atom(a: Any) -> Any:
        if isinstance(a, Literal):
            return Literal(_subs(a.value, binding), a.dtype) if isinstance(a.value, sympy.Basic) else a
        return var(a)

    eqns = [Eqn(e.op, tuple(atom(a) for a in e.inputs), tuple(var(o) for o in e.outputs),
                tuple((k, _subs(v, binding)) for k, v in e.attrs), e.loc) for e in graph.eqns]
    return Graph(graph.name, [var(v) for v in graph.inputs], eqns,
                 [atom(a) for a in graph.outputs], dict(graph.meta))


def le(a: Any, b: Any) -> bool:
    """a <= b for sizes, knowing every size symbol is >= 2; TypeError when that does
    not decide it (the caller then needs the value: the trace specializes)."""
    if not (is_symbolic(a) or is_symbolic(b)):
        return a <= b
    d = sympy.sympify(b - a)
    shifted = d.subs({s: sympy.Dummy(nonnegative=True, integer=True) + 2 for s in d.free_symbols})
    if shifted.is_nonnegative:
        return True
    if shifted.is_negative:
        return False
    raise TypeError(f"cannot tell whether {a} <= {b} for every size")


# ------------------------------------------------------------------ hints
# (per thread: the hints of one thread's shape-generic trace are not another's)


@contextmanager
def hints(binding: dict[sympy.Symbol, int]) -> Iterator[None]:
    """Sizes that stand for the symbols in size decisions (see `size_hint`)."""
    saved = _thread.size_hints
    _thread.size_hints = {**saved, **binding}
    try:
        yield
    finally:
        _thread.size_hints = saved


def size_hint(n: Any) -> int:
    """An int for a size: itself, or a polynomial evaluated at the hinted sizes."""
    if not isinstance(n, sympy.Basic):
        return n
    h = _thread.size_hints
    return int(n.subs({s: h.get(s, 64) for s in n.free_symbols}))


def numel_hint(shape: Sequence[Any]) -> int:
    n = 1
    for d in shape:
        n *= size_hint(d)
    return n


__all__ = ["size_symbol", "is_symbolic", "parse_size", "free_sizes", "sources", "substitute",
           "hints", "size_hint", "numel_hint"]
