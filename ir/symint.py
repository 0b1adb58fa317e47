"""Guarded symbolic sizes: what `x.shape[0]` is while a shape-generic function is traced.

A SymInt wraps a sympy expression of the size symbols (`s0`, `2*s0`, `Mod(s0, 3)`) and
the value it has in the call being traced (its hint). Arithmetic stays symbolic. A
Python decision on it (`==`, `<`, `bool()`, `int()`, `hash()`, `range()`, `len()`, `min`,
`max`, a slice bound NumPy reads) is answered with the traced call's value, and the
condition that made the answer is recorded as a guard (a sympy relation): the compiled
entry serves a later call only where every guard holds (see torchtrek/compiler.py), so a
branch taken at trace time is never taken wrongly at another size. `int()` and `hash()`
specialize: their guard is `size == value`. This is torch's SymInt, in small.

Guards go to the recorder of this thread's innermost `recording()` block; outside one
(no shape-generic trace) a SymInt is never made.
"""

from __future__ import annotations

import math
import operator
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import sympy

from .._state import thread as _thread


class GuardSet:
    """The guards one trace recorded, simplified: each relation once, none that holds for
    every size (sizes are integers >= 2: `s0 != 1`, `s0 > 0`)."""

    def __init__(self, hints: dict[sympy.Symbol, int]) -> None:
        self.hints = dict(hints)
        self.relations: list[sympy.Basic] = []
        self._seen: set[sympy.Basic] = set()
        # symbols whose value the code needed (int(), range(), len(), hash()): the trace
        # is then a specialization of them, and later traces keep them static
        self.specialized: set[sympy.Symbol] = set()

    def add(self, rel: sympy.Basic) -> None:
        if rel in self._seen or rel is sympy.true:
            return
        self._seen.add(rel)
        if not _always_true(rel):
            self.relations.append(rel)

    def check_source(self) -> str:
        """Python source of `def check(s0, s1, ...) -> bool` testing every guard."""
        names = sorted({s.name for r in self.relations for s in r.free_symbols},
                       key=lambda n: int(n[1:]))
        body = " and ".join(f"({_py(r)})" for r in self.relations) or "True"
        return f"def check({', '.join(names)}):\n    return {body}\n"

    def compile(self) -> Callable[..., bool]:
        """The check as a function of a binding {symbol: size} (generated code: a few
        integer comparisons per call, no interpreter walk)."""
        ns: dict[str, Any] = {"math": math}
        exec(compile(self.check_source(), "<torchtrek guards>", "exec"), ns)
        check = ns["check"]
        names = check.__code__.co_varnames[: check.__code__.co_argcount]
        if not names:
            return lambda binding: True
        getter = operator.itemgetter(*names) if len(names) > 1 else None

        def holds(binding: dict[sympy.Symbol, int]) -> bool:
            by_name = {s.name: v for s, v in binding.items()}
            try:
                vals = getter(by_name) if getter else (by_name[names[0]],)
            except KeyError:
                return False
            return bool(check(*vals))

        return holds

    def __str__(self) -> str:
        return ", ".join(str(r) for r in self.relations) or "(none)"


def _always_true(rel: sympy.Basic) -> bool:
    """Whether `rel` holds for every assignment of integers >= 2 to its symbols."""
    shifted = rel.subs({s: sympy.Dummy(nonnegative=True, integer=True) + 2 for s in rel.free_symbols})
    return shifted is sympy.true


def _py(rel: sympy.Basic) -> str:
    from sympy.printing.pycode import pycode

    return pycode(rel, fully_qualified_modules=True)


@contextmanager
def recording(hints: dict[sympy.Symbol, int]) -> Iterator[GuardSet]:
    """Record the guards of the decisions made on sizes inside (per thread, nestable)."""
    guards = GuardSet(hints)
    saved = _thread.size_guards
    _thread.size_guards = guards
    try:
        yield guards
    finally:
        _thread.size_guards = saved


def _node(x: Any) -> Any:
    return x.node if type(x) is SymInt else x


def _value(x: Any) -> Any:
    return x.hint if type(x) is SymInt else x


def _wrap(node: Any, hint: Any) -> Any:
    """A SymInt, or a plain int where the expression came out constant (s0 - s0)."""
    node = sympy.sympify(node)
    if node.is_Integer:
        return int(node)
    return SymInt(node, int(hint))


def _decide(rel: Any, truth: bool) -> bool:
    """Record that `rel` (a sympy relation) came out `truth` at the traced sizes."""
    if rel is sympy.true or rel is sympy.false:
        return bool(rel)  # decided for every size: no guard
    guards = _thread.size_guards
    if guards is not None:
        guards.add(rel if truth else sympy.Not(rel))
    return truth


class SymInt:
    """A symbolic size (see the module doc). `isinstance(s, int)` is True, as user code
    expects of a size; C code that reads it as an integer (range, NumPy) goes through
    `__index__`, which specializes with a guard, never silently."""

    __slots__ = ("node", "hint")

    def __init__(self, node: sympy.Expr, hint: int) -> None:
        self.node = node
        self.hint = hint

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(s, int): True, as for torch's sizes
        return int

    # ---- what the size is: symbolic
    def _sympy_(self) -> sympy.Expr:
        return self.node

    def __repr__(self) -> str:
        return str(self.node)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(str(self.node), spec) if not spec or spec[-1] == "s" else format(int(self), spec)

    # ---- arithmetic: symbolic
    def _bin(self, other: Any, op: Callable[[Any, Any], Any], hop: Callable[[Any, Any], Any],
             reflected: bool = False) -> Any:
        if type(other) is float:  # a float value made from a size: sympy, read per call
            a, b = (self.node, sympy.Float(other)) if not reflected else (sympy.Float(other), self.node)
            return op(a, b)
        if not (type(other) is SymInt or isinstance(other, (int, sympy.Integer))) or isinstance(other, bool):
            return NotImplemented
        a, b = (self, other) if not reflected else (other, self)
        return _wrap(op(_node(a), _node(b)), hop(_value(a), _value(b)))

    def __add__(self, o: Any) -> Any:
        return self._bin(o, operator.add, operator.add)

    def __radd__(self, o: Any) -> Any:
        return self._bin(o, operator.add, operator.add, True)

    def __sub__(self, o: Any) -> Any:
        return self._bin(o, operator.sub, operator.sub)

    def __rsub__(self, o: Any) -> Any:
        return self._bin(o, operator.sub, operator.sub, True)

    def __mul__(self, o: Any) -> Any:
        return self._bin(o, operator.mul, operator.mul)

    def __rmul__(self, o: Any) -> Any:
        return self._bin(o, operator.mul, operator.mul, True)

    def __floordiv__(self, o: Any) -> Any:
        return self._bin(o, lambda a, b: sympy.floor(a / b), operator.floordiv)

    def __rfloordiv__(self, o: Any) -> Any:
        return self._bin(o, lambda a, b: sympy.floor(a / b), operator.floordiv, True)

    def __mod__(self, o: Any) -> Any:
        return self._bin(o, sympy.Mod, operator.mod)

    def __rmod__(self, o: Any) -> Any:
        return self._bin(o, sympy.Mod, operator.mod, True)

    def __pow__(self, o: Any) -> Any:
        return self._bin(o, operator.pow, operator.pow)

    def __truediv__(self, o: Any) -> Any:  # a float: the sympy value (1/s0 of a mean)
        return self.node / _node(o)

    def __rtruediv__(self, o: Any) -> Any:
        return _node(o) / self.node

    def __neg__(self) -> Any:
        return _wrap(-self.node, -self.hint)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return self  # (sizes are positive)

    def __divmod__(self, o: Any) -> Any:
        return self // o, self % o

    # ---- decisions: answered with the traced value, recorded as guards
    def _cmp(self, other: Any, rel: Callable[[Any, Any], Any], pyop: Callable[[Any, Any], bool]) -> Any:
        if type(other) is not SymInt and not isinstance(other, (int, float, sympy.Basic)):
            return NotImplemented
        o = other.hint if type(other) is SymInt else other
        if isinstance(other, sympy.Basic) and other.free_symbols:
            return NotImplemented
        truth = bool(pyop(self.hint, int(o) if isinstance(o, sympy.Integer) else o))
        return _decide(rel(self.node, _node(other)), truth)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self._cmp(o, sympy.Eq, operator.eq)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return self._cmp(o, sympy.Ne, operator.ne)

    def __lt__(self, o: Any) -> Any:
        return self._cmp(o, sympy.Lt, operator.lt)

    def __le__(self, o: Any) -> Any:
        return self._cmp(o, sympy.Le, operator.le)

    def __gt__(self, o: Any) -> Any:
        return self._cmp(o, sympy.Gt, operator.gt)

    def __ge__(self, o: Any) -> Any:
        return self._cmp(o, sympy.Ge, operator.ge)

    def __bool__(self) -> bool:
        return self._cmp(0, sympy.Ne, operator.ne)

    def specialize(self) -> int:
        """The traced value, guarded: this entry then serves this size only."""
        _decide(sympy.Eq(self.node, self.hint), True)
        guards = _thread.size_guards
        if guards is not None:
            guards.specialized |= self.node.free_symbols
        return self.hint

    def __int__(self) -> int:
        return self.specialize()

    __index__ = __int__

    def __float__(self) -> float:
        return float(self.specialize())

    def __hash__(self) -> int:  # a dict key, `in` a set: the value's hash, specialized
        return hash(self.specialize())

    def __round__(self, n: Any = None) -> Any:
        return self if n is None else round(self.specialize(), n)

    def __trunc__(self) -> Any:
        return self

    __floor__ = __ceil__ = __trunc__

    def __reduce__(self) -> Any:  # (pickling or copying a size keeps its value)
        return (int, (self.specialize(),))


def unwrap(x: Any) -> Any:
    """SymInts in `x` (an attribute, a shape, nested tuples/lists) as their sympy
    expressions: what the IR holds."""
    t = type(x)
    if t is SymInt:
        return x.node
    if t is tuple or t is list:
        if any(type(y) is SymInt or type(y) in (tuple, list) for y in x):
            return t(unwrap(y) for y in x)
    return x


def wrap_size(d: Any) -> Any:
    """A dimension as user code sees it during a shape-generic trace."""
    if isinstance(d, sympy.Basic) and not d.is_Number:
        hints = _thread.size_hints
        return SymInt(d, int(d.subs({s: hints.get(s, 64) for s in d.free_symbols})))
    return d


__all__ = ["SymInt", "GuardSet", "recording", "unwrap", "wrap_size"]
