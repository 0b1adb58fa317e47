"""A pointwise formula as a chain of NumPy ufunc calls that write into one buffer.

`a*(1 - t**2)` printed as one expression allocates a fresh array for `t**2`, another for
`1 - ...` and a third for the product; for arrays of megabytes each allocation costs page
faults on every call. Lowered here it is

    out = np.square(t, out=buf); np.subtract(1, out, out=out); np.multiply(a, out, out=out)

Only the "spine" of the expression (one full-size operand chain) goes through the buffer;
a second full-size compound operand is printed as an ordinary expression (a temporary).
Subexpressions that read only small (broadcast) operands are printed as ordinary
expressions too: they are cheap and would not fit the buffer's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .printer import print_expr

# sympy functions that are NumPy ufuncs of one operand taking `out=`
_UNARY = {
    "exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh",
    "sinh": "sinh", "cosh": "cosh", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "Abs": "absolute",
    "sign": "sign", "floor": "floor", "ceiling": "ceil",
}  # fmt: skip

REG = None  # an operand slot meaning "the buffer's current value"


@dataclass(frozen=True)
class Call:
    ufunc: str  # e.g. "multiply"
    args: tuple[str | None, ...]  # operand code; None is the buffer itself


class _NotLowerable(Exception):
    pass


class _Lowering:
    def __init__(self, names: dict[sympy.Symbol, str], full: set[sympy.Symbol]) -> None:
        self.names = names
        self.full = full
        self.calls: list[Call] = []

    def text(self, e: sympy.Expr) -> str:
        return print_expr(e, self.names)

    def big(self, e: sympy.Expr) -> bool:
        return bool(e.free_symbols & self.full)

    def operand(self, e: sympy.Expr) -> str:
        """Code for an operand that is not the buffer (a name, a small or a temporary)."""
        return self.text(e)

    def emit(self, ufunc: str, *args: str | None) -> None:
        self.calls.append(Call(ufunc, args))

    def into(self, e: sympy.Expr) -> None:
        """Emit calls leaving `e` in the buffer."""
        if e.is_Add:
            self._add(e)
        elif e.is_Mul:
            self._mul(e)
        elif e.is_Pow:
            self._pow(e)
        elif isinstance(e, (sympy.Max, sympy.Min)) and len(e.args) == 2:
            spine, other = self._split(e.args)
            self._value(spine)
            self._first("maximum" if isinstance(e, sympy.Max) else "minimum", REG, self.operand(other))
        elif isinstance(e, sympy.Function) and type(e).__name__ in _UNARY and len(e.args) == 1:
            self._value(e.args[0])
            self._first(_UNARY[type(e).__name__], REG)
        else:
            raise _NotLowerable(e)

    def _split(self, args) -> tuple[sympy.Expr, sympy.Expr]:
        a, b = args
        return (a, b) if self._weight(a) >= self._weight(b) else (b, a)

    def _weight(self, e: sympy.Expr) -> int:
        # the compound full-size operand is the spine; a bare name is the cheapest
        return 0 if not self.big(e) else 1 if isinstance(e, sympy.Symbol) else 2

    def _value(self, e: sympy.Expr) -> None:
        """Emit calls so that the buffer holds `e`, or leave a pending operand."""
        if isinstance(e, sympy.Symbol) or not self.big(e):
            self.pending = self.operand(e)
            return
        self.into(e)

    # the first call of a chain reads its operand directly instead of the buffer
    pending: str | None = None

    def _first(self, ufunc: str, *args: str | None) -> None:
        if self.pending is not None:
            args = tuple(self.pending if a is REG else a for a in args)
            self.pending = None
        self.emit(ufunc, *args)

    def _add(self, e: sympy.Expr) -> None:
        terms = sorted(e.args, key=self._weight, reverse=True)
        spine, rest = terms[0], terms[1:]
        small = [t for t in rest if not self.big(t)]
        rest = [t for t in rest if self.big(t)] + ([sympy.Add(*small)] if small else [])
        if spine.could_extract_minus_sign() and not rest[0].could_extract_minus_sign():
            # 1 - t**2: square, then subtract from 1 (not negate, then add)
            self._value(-spine)
            self._first("subtract", self.operand(rest[0]), REG)
            rest = rest[1:]
        else:
            self._value(spine)
        for t in rest:
            if t.could_extract_minus_sign():
                self._first("subtract", REG, self.operand(-t))
            else:
                self._first("add", REG, self.operand(t))

    def _mul(self, e: sympy.Expr) -> None:
        coeff, factors = e.as_coeff_mul()
        num = [f for f in factors if not (f.is_Pow and f.exp.is_number and f.exp < 0)]
        den = [1 / f for f in factors if f not in num]
        big_num = sorted((f for f in num if self.big(f)), key=self._weight, reverse=True)
        small_num = [f for f in num if not self.big(f)]
        if coeff == -1:
            negate = True
        else:
            negate = False
            if coeff != 1:
                small_num.insert(0, coeff)
        big_den = [f for f in den if self.big(f)]
        small_den = [f for f in den if not self.big(f)]
        if big_num:
            self._value(big_num[0])
            others = big_num[1:]
        else:  # e.g. 2/x: the numerator is small, the spine a denominator
            self._value(big_den[0])
            self._first("divide", self.operand(sympy.Mul(*small_num)) if small_num else "1", REG)
            small_num, others = [], []
            big_den = big_den[1:]
        for f in others:
            self._first("multiply", REG, self.operand(f))
        if small_num:
            self._first("multiply", REG, self.operand(sympy.Mul(*small_num)))
        for f in big_den:
            self._first("divide", REG, self.operand(f))
        if small_den:
            self._first("divide", REG, self.operand(sympy.Mul(*small_den)))
        if negate:
            self._first("negative", REG)

    def _pow(self, e: sympy.Expr) -> None:
        base, exp = e.args
        if exp == 2:
            self._value(base)
            self._first("square", REG)
        elif exp == 3 and isinstance(base, sympy.Symbol):
            b = self.operand(base)
            self.emit("multiply", b, b)
            self.emit("multiply", REG, b)
        elif exp == sympy.Rational(1, 2):
            self._value(base)
            self._first("sqrt", REG)
        elif exp == -1:
            self._value(base)
            self._first("divide", "1", REG)
        elif exp == sympy.Rational(-1, 2):
            self._value(base)
            self._first("sqrt", REG)
            self.emit("divide", "1", REG)
        elif exp == -2:
            self._value(base)
            self._first("square", REG)
            self.emit("divide", "1", REG)
        else:
            self._value(base)
            self._first("power", REG, self.operand(exp))


def lower(expr: sympy.Expr, names: dict[sympy.Symbol, str],
          full: set[sympy.Symbol]) -> list[Call] | None:
    """Ufunc calls computing `expr` into one buffer, or None when it does not lower
    (a root NumPy has no ufunc with `out=` for, such as a where or a compare).
    `full` holds the symbols whose operands have the result's shape and dtype."""
    if isinstance(expr, sympy.Symbol) or not (expr.free_symbols & full):
        return None  # an alias or a small value: nothing to write
    lowering = _Lowering(names, full)
    try:
        lowering.into(expr)
    except _NotLowerable:
        return None
    if lowering.pending is not None or not lowering.calls:
        return None
    return lowering.calls


__all__ = ["Call", "lower"]
