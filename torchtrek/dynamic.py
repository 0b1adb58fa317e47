"""Which sizes of a compiled function's arguments are symbolic, and matching calls to them.

`tt.compile(fn, dynamic=True)` traces every argument dimension of size >= 2 as a symbol;
by default (`dynamic="auto"`, torch's automatic dynamic) a function is traced with its
sizes as constants, and when a later call changes some dimension, the dimensions that
changed become symbols. Python decisions on symbolic sizes are guards (ir/symint.py).
Dimensions of equal size share a symbol ("duck sizing"), so a call must keep them equal;
sizes 0 and 1 always stay constants (they change broadcasting).
"""

from __future__ import annotations

from typing import Any, Sequence

import sympy

from .ir.graph import TensorType
from .ir.symdims import size_symbol

Key = Any  # CompiledFunction._key(...): (arg keys, kwarg keys, grad mode, force_grad, modes)
Dims = frozenset[tuple[int, int]]  # (argument position, dimension)


def all_dims(key: Key) -> Dims:
    """Every dimension of size >= 2 of the tensor arguments."""
    return frozenset((i, d) for i, k in enumerate(key[0]) if k[0] == "T"
                     for d, n in enumerate(k[1]) if n >= 2)


def leading_dims(key: Key) -> Dims:
    """The first dimension (of size >= 2) of each tensor argument: the batch."""
    return frozenset((i, 0) for i, k in enumerate(key[0]) if k[0] == "T" and k[1] and k[1][0] >= 2)


def changed_dims(old: Key, new: Key) -> Dims:
    """The dimensions in which `new` differs from `old` when nothing else differs
    (same arguments, ranks, dtypes, grad flags and modes); empty otherwise."""
    if len(old[0]) != len(new[0]) or old[1:] != new[1:]:
        return frozenset()
    out = set()
    for i, (a, b) in enumerate(zip(old[0], new[0])):
        if a == b:
            continue
        if a[0] != "T" or b[0] != "T" or a[2:] != b[2:] or len(a[1]) != len(b[1]):
            return frozenset()
        out.update((i, d) for d, (x, y) in enumerate(zip(a[1], b[1])) if x != y and y >= 2)
    return frozenset(out)


class SizePattern:
    """Argument shapes with some sizes replaced by symbols, and the rest of the key."""

    def __init__(self, key: Key, dims: Dims) -> None:
        self.key = key
        symbols: dict[int, sympy.Symbol] = {}  # size -> its symbol (duck sizing)
        self.shapes: dict[int, tuple[Any, ...]] = {}
        for i, k in enumerate(key[0]):
            if k[0] != "T" or not any((i, d) in dims for d in range(len(k[1]))):
                continue
            shape = []
            for d, n in enumerate(k[1]):
                if (i, d) in dims and n >= 2:
                    if n not in symbols:
                        symbols[n] = size_symbol(len(symbols))
                    shape.append(symbols[n])
                else:
                    shape.append(n)
            self.shapes[i] = tuple(shape)
        self.hints = {s: n for n, s in symbols.items()}  # the tracing call's sizes

    def __bool__(self) -> bool:
        return bool(self.hints)

    def ident(self) -> Any:
        return (tuple(sorted((i, tuple(map(str, s))) for i, s in self.shapes.items())), self.key[1:])

    def types(self, args: Sequence[Any]) -> dict[int, TensorType]:
        return {i: TensorType(shape, args[i].dtype) for i, shape in self.shapes.items()}

    def bind(self, key: Key) -> dict[sympy.Symbol, int] | None:
        """The symbols' sizes in a call with `key`, or None when it does not fit."""
        if len(key[0]) != len(self.key[0]) or key[1:] != self.key[1:]:
            return None
        binding: dict[sympy.Symbol, int] = {}
        for i, (a, b) in enumerate(zip(key[0], self.key[0])):
            shape = self.shapes.get(i)
            if shape is None:
                if a != b:
                    return None
                continue
            if a[0] != "T" or a[2:] != b[2:] or len(a[1]) != len(shape):
                return None
            for n, p in zip(a[1], shape):
                if isinstance(p, int):
                    if n != p:
                        return None
                elif n < 2 or binding.setdefault(p, n) != n:
                    return None
        return binding

    def describe(self, names: Sequence[str]) -> str:
        """e.g. 'x: (s0, 784), y: (s0,)'"""
        return ", ".join(f"{names[i]}: {tuple(s)}".replace("'", "")
                         for i, s in sorted(self.shapes.items()))


__all__ = ["all_dims", "leading_dims", "changed_dims", "SizePattern"]
