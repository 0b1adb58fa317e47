"""Prints sympy expressions as NumPy code that keeps the operands' dtype.

sympy's own NumPyPrinter is the base; what changes is what matters for float32 data:
constants print as Python numbers (weak scalars under NumPy 2, so they never widen
float32 to float64), and max/heaviside/piecewise print as the ufuncs that propagate NaN
the way torch does.
"""

from __future__ import annotations

import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence


class NumpyExprPrinter(NumPyPrinter):
    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.names: dict[sympy.Symbol, str] = {}

    def _module_format(self, fqn: str, register: bool = True) -> str:
        return "np." + fqn[len("numpy."):] if fqn.startswith("numpy.") else fqn

    def _print(self, expr, **kwargs) -> str:  # type: ignore[override]
        if isinstance(expr, sympy.Basic) and expr.is_number and not expr.is_Rational:
            value = complex(expr.evalf(20))
            if value.imag == 0:
                return repr(float(value.real))
        return super()._print(expr, **kwargs)

    def _print_Max(self, expr) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"np.maximum({out}, {a})"
        return out

    def _print_Min(self, expr) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"np.minimum({out}, {a})"
        return out

    def _print_Heaviside(self, expr) -> str:
        h0 = expr.args[1] if len(expr.args) > 1 else sympy.Rational(1, 2)
        return f"np.heaviside({self._print(expr.args[0])}, {self._print(h0)})"

    def _print_Piecewise(self, expr) -> str:
        *pairs, (last, cond) = expr.args
        out = self._print(last) if cond == sympy.true else "np.nan"
        for value, c in reversed(pairs if cond == sympy.true else expr.args):
            out = f"np.where({self._print(c)}, {self._print(value)}, {out})"
        return out

    def _print_And(self, expr) -> str:
        return self._fold("np.logical_and", expr.args)

    def _print_Or(self, expr) -> str:
        return self._fold("np.logical_or", expr.args)

    def _print_Not(self, expr) -> str:
        return f"np.logical_not({self._print(expr.args[0])})"

    def _fold(self, fn: str, args) -> str:
        # binary ufuncs broadcast; sympy's `logical_and.reduce((a, b))` does not
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{fn}({out}, {self._print(a)})"
        return out

    def _print_Relational(self, expr) -> str:
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        return f"({self._print(expr.lhs)} {op} {self._print(expr.rhs)})"

    def _print_Pow(self, expr, rational: bool = False) -> str:
        base, exp = expr.args
        prec = precedence(expr)
        b = self.parenthesize(base, prec, strict=False)
        if exp == -1:
            return f"1/{b}"
        if exp.is_Integer and exp < 0:
            return f"1/{b}**{-int(exp)}"
        if exp == 3 and base.is_Symbol:
            return f"({b}*{b}*{b})"  # NumPy's float power is ~40x slower than two products
        if exp == sympy.Rational(1, 2):
            return f"np.sqrt({self._print(base)})"
        if exp == sympy.Rational(-1, 2):
            return f"1/np.sqrt({self._print(base)})"
        return f"{b}**{self.parenthesize(exp, prec, strict=False)}"

    def _print_sign(self, expr) -> str:
        return f"np.sign({self._print(expr.args[0])})"

    def _print_Abs(self, expr) -> str:
        return f"np.abs({self._print(expr.args[0])})"


    def _print_Symbol(self, expr) -> str:
        # Symbols are printed through the name table, never renamed in the expression:
        # renaming x0 and x1 to the same value's name would let sympy fold x/x to 1.
        return self.names.get(expr, expr.name)


_PRINTER = NumpyExprPrinter()


def print_expr(expr: sympy.Expr, names: dict[sympy.Symbol, str]) -> str:
    """`expr` as NumPy source, each symbol printed as the code text given (a value's
    name or a literal)."""
    _PRINTER.names = names
    try:
        return _PRINTER.doprint(expr)
    finally:
        _PRINTER.names = {}
