"""Prints pointwise sympy expressions as C (CUDA C++ and C99 alike).

sympy's C99CodePrinter does the work: with float32 type aliases it prints `expf`,
`1.0F`. What changes is what torch's semantics need: max/min propagate NaN (C's fmaxf
does not), small integer powers become multiplications, Heaviside(x, h0) and Piecewise
print as one-line conditionals, and symbols print through a name table (a value's
buffer access), never renamed inside the expression.
"""

from __future__ import annotations

import sympy
from sympy.codegen.ast import float32, float64, real
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import precedence

C_TYPES = {
    "float32": "float", "float64": "double", "int64": "long long", "int32": "int",
    "int16": "short", "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
    "float16": "tt_half",  # CUDA only: a float-converting wrapper of __half (kernels.cu.j2)
}  # fmt: skip

# Helpers every C-family kernel module defines (see PREAMBLE): NaN-propagating max/min.
PREAMBLE = """\
__TT_INLINE__ float tt_maxf(float a, float b) { return (a != a || a > b) ? a : b; }
__TT_INLINE__ float tt_minf(float a, float b) { return (a != a || a < b) ? a : b; }
__TT_INLINE__ double tt_max(double a, double b) { return (a != a || a > b) ? a : b; }
__TT_INLINE__ double tt_min(double a, double b) { return (a != a || a < b) ? a : b; }
"""


class CExprPrinter(C99CodePrinter):
    def __init__(self, dtype: str = "float32") -> None:
        aliases = {real: float32 if dtype == "float32" else float64}
        super().__init__({"type_aliases": aliases})
        self.dtype = dtype
        self.integer = dtype not in ("float32", "float64", "float16")
        self.suffix = "f" if dtype == "float32" else ""
        self.names: dict[sympy.Symbol, str] = {}

    def _print_Symbol(self, expr) -> str:
        return self.names.get(expr, expr.name)

    def _print(self, expr, **kwargs) -> str:  # type: ignore[override]
        # Irrational constants (sqrt(2), log(2), pi) print as typed literals: C++ has no
        # sqrt(int), and a double constant would widen float32 arithmetic.
        if isinstance(expr, sympy.Basic) and expr.is_number and not expr.is_Rational:
            value = complex(expr.evalf(20))
            if value.imag == 0:
                text = repr(float(value.real))
                if text in ("inf", "-inf", "nan"):
                    return {"inf": "INFINITY", "-inf": "-INFINITY", "nan": "NAN"}[text]
                return text + ("F" if self.dtype == "float32" else "")
        return super()._print(expr, **kwargs)

    def _print_Integer(self, expr) -> str:
        return str(expr.p)

    def _print_Pow(self, expr) -> str:
        base, exp = expr.args
        b = self.parenthesize(base, precedence(expr))
        if exp.is_Integer and 2 <= int(exp) <= 4:
            return "(" + "*".join([b] * int(exp)) + ")"
        if exp == -1:
            return f"({self._one()}/{b})"
        if exp.is_Integer and -4 <= int(exp) <= -2:
            return f"({self._one()}/(" + "*".join([b] * -int(exp)) + "))"
        if exp == sympy.Rational(1, 2):
            return f"sqrt{self.suffix}({self._print(base)})"
        if exp == sympy.Rational(-1, 2):
            return f"({self._one()}/sqrt{self.suffix}({self._print(base)}))"
        return super()._print_Pow(expr)

    def _one(self) -> str:
        return "1.0F" if self.dtype == "float32" else "1.0"

    def _fold(self, fn: str, args) -> str:
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{fn}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr) -> str:
        return self._fold("tt_maxf" if self.dtype == "float32" else "tt_max", expr.args)

    def _print_Min(self, expr) -> str:
        return self._fold("tt_minf" if self.dtype == "float32" else "tt_min", expr.args)

    def _print_Heaviside(self, expr) -> str:
        x = self._print(expr.args[0])
        h0 = self._print(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"(({x}) > 0 ? 1 : (({x}) < 0 ? 0 : {h0}))"

    def _print_Piecewise(self, expr) -> str:
        *pairs, (last, cond) = expr.args
        out = self._print(last) if cond == sympy.true else "NAN"
        for value, c in reversed(pairs if cond == sympy.true else expr.args):
            out = f"(({self._print(c)}) ? ({self._print(value)}) : ({out}))"
        return out

    def _print_Abs(self, expr) -> str:
        if self.integer:  # fabs has no integer overload on the device
            x = self._print(expr.args[0])
            return f"(({x}) < 0 ? -({x}) : ({x}))"
        return super()._print_Abs(expr)

    def _print_sign(self, expr) -> str:
        x = self._print(expr.args[0])
        return f"((({x}) > 0) - (({x}) < 0))"


_PRINTERS: dict[str, CExprPrinter] = {}


def print_c(expr: sympy.Expr, names: dict[sympy.Symbol, str], dtype: str = "float32") -> str:
    """`expr` as a C expression computing in `dtype`, symbols printed from `names`."""
    p = _PRINTERS.get(dtype)
    if p is None:
        p = _PRINTERS[dtype] = CExprPrinter(dtype)
    p.names = names
    try:
        return p.doprint(expr)
    finally:
        p.names = {}
