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
from sympy.printing.pycode import PythonCodePrinter

from .._state import thread as _thread
from .graph import Eqn, Graph, Literal, TensorType, Var
from .symint import SymInt

_NAME = re.compile(r"^s\d+$")


def size_symbol(i: int) -> sympy.Symbol:
    return sympy.Symbol(f"s{i}", integer=True, positive=True)


def is_symbolic(d: Any) -> bool:
    """A size made of size symbols: sympy (in the IR) or a SymInt (user code's view)."""
    return type(d) is SymInt or (isinstance(d, sympy.Basic) and not d.is_Number)


def is_size_name(name: str) -> bool:
    return bool(_NAME.match(name))


def parse_size(text: str) -> Any:
    """A dimension as printed (`8`, `s0`, `784*s0`), or a literal made from sizes (`1/s0`),
    back to an int or a sympy expression."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    names = set(re.findall(r"[A-Za-z_]\w*", text))
    sizes = {n for n in names if is_size_name(n)}
    if not sizes or names - sizes - set(_SIZE_FUNCTIONS) or not re.fullmatch(r"[\w\s*+\-()/.,]+", text):
        raise ValueError(f"bad size {text!r}")
    return sympy.sympify(text, locals={**_SIZE_FUNCTIONS, **{n: size_symbol(int(n[1:])) for n in sizes}})


def parse_guard(text: str) -> Any:
    """A guard as printed (`Ne(s0, 5)`, `Eq(Mod(s0, 3), 0)`, `s0 < s1`) back to sympy."""
    text = text.strip()
    m = re.fullmatch(r"(Eq|Ne)\((.*)\)", text)
    if m:
        parts = _split_args(m.group(2))
        if len(parts) != 2:
            raise ValueError(f"bad guard {text!r}")
        return (sympy.Eq if m.group(1) == "Eq" else sympy.Ne)(parse_size(parts[0]), parse_size(parts[1]),
                                                              evaluate=False)
    for op, rel in (("<=", sympy.Le), (">=", sympy.Ge), ("<", sympy.Lt), (">", sympy.Gt)):
        if op in text:
            a, b = text.split(op, 1)
            return rel(parse_size(a), parse_size(b), evaluate=False)
    raise ValueError(f"bad guard {text!r}: expected like Ne(s0, 5) or s0 < 8")


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return out + [cur]


# what x.shape[0] // 2, % 3, min/max of sizes print as (sympy's names)
_SIZE_FUNCTIONS = {"Mod": sympy.Mod, "floor": sympy.floor, "ceiling": sympy.ceiling,
                   "Max": sympy.Max, "Min": sympy.Min}


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
        return all(isinstance(f, (sympy.Mod, sympy.floor)) for f in x.atoms(sympy.Function))
    if type(x) is tuple:
        return all(_printable(y) for y in x)
    return True


class _SizePrinter(PythonCodePrinter):
    """Python for size arithmetic: integer `//` and `%` (no floats, no imports)."""

    def _print_floor(self, e: Any) -> str:
        n, d = sympy.fraction(sympy.together(e.args[0]))
        if d == 1:
            return self._print(n)
        return f"(({self._print(n)}) // ({self._print(d)}))"

    def _print_Mod(self, e: Any) -> str:
        a, b = e.args
        return f"(({self._print(a)}) % ({self._print(b)}))"


def size_code(x: Any) -> str:
    """Python source computing a size expression (s0, 784*s0, (s0) // (2), (1) % (s0))."""
    if isinstance(x, tuple):
        inner = ", ".join(size_code(y) for y in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, sympy.Basic) and not x.is_Number:
        return _SizePrinter().doprint(x)
    return repr(x)


def needs_size_code(x: Any) -> bool:
    """Whether `x` holds a size function (Mod, floor) that str() does not print as Python."""
    if isinstance(x, sympy.Basic):
        return bool(x.atoms(sympy.Function))
    return type(x) is tuple and any(needs_size_code(y) for y in x)


def check_printable(graph: Graph) -> None:
    """TypeError unless every symbolic size of `graph` is a polynomial and every size-made
    literal or attribute plain arithmetic with // and % (size_code prints it), which
    generated code prints as it is."""
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
