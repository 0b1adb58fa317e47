"""Sympy functions the math family's formulas need, each printing itself as NumPy and C.

sympy's printers call `expr._numpycode(printer)` (NumPy) and `expr._ccode(printer)` (C,
CUDA) when a class defines them, so these print without printer overrides. What they add
over sympy's own functions: torch's conventions (sign(nan) = 0, round half to even,
Python-style remainder and floor division), integer division by zero raising as torch
does (NumPy only: a CUDA kernel cannot raise), and an `erf` that needs only NumPy.

C code computes in the printer's dtype (`float` for float32 kernels, else `double`:
integer kernels compute in double too, so integer operands are cast where C would
otherwise divide integers).

They print in text (IR, docs) under the names used here; SYMPY_FUNCTIONS lets the IR
parser read them back as themselves.
"""

from __future__ import annotations

import math

import sympy
from sympy import S


def _args(printer, expr) -> list[str]:
    return [printer._print(a) for a in expr.args]


def _c_real(printer) -> str:
    return "float" if getattr(printer, "dtype", "float64") == "float32" else "double"


def _c_suffix(printer) -> str:
    return "f" if _c_real(printer) == "float" else ""


def _c_args(printer, expr) -> list[str]:
    """The arguments cast to the compute type (integer operands must not divide as ints)."""
    t = _c_real(printer)
    return [f"(({t})({printer._print(a)}))" for a in expr.args]


class Indicator(sympy.Function):
    """1 where the condition holds, else 0; prints as the boolean array itself, so that
    `ct*(x >= lo)` keeps ct's float dtype."""

    nargs = 1

    @classmethod
    def eval(cls, cond):
        if cond is S.true:
            return S.One
        if cond is S.false:
            return S.Zero
        return None

    def fdiff(self, argindex=1):
        return S.Zero

    def _eval_derivative(self, s):
        return S.Zero

    def _numpycode(self, printer) -> str:
        return printer._print(self.args[0])

    def _ccode(self, printer) -> str:
        return f"({printer._print(self.args[0])})"


class Unless(Indicator):
    """1 where the condition does not hold (nan comparisons included), else 0. sympy
    would rewrite Not(x <= a) as x > a, which is False, not True, for nan."""

    @classmethod
    def eval(cls, cond):
        if cond is S.true:
            return S.Zero
        if cond is S.false:
            return S.One
        return None

    def _numpycode(self, printer) -> str:
        return f"np.logical_not({printer._print(self.args[0])})"

    def _ccode(self, printer) -> str:
        return f"(!({printer._print(self.args[0])}))"


class _NumpyCall(sympy.Function):
    """A NumPy ufunc applied to the arguments; piecewise constant (zero derivative)
    unless a subclass says otherwise."""

    ufunc = ""
    cfunc = ""  # a C math function taking the compute type (suffixed `f` for float)
    cpredicate = ""  # a C classification macro (isnan): no suffix, any real type

    def fdiff(self, argindex=1):
        return S.Zero

    def _numpycode(self, printer) -> str:
        return f"np.{self.ufunc}({', '.join(_args(printer, self))})"

    def _ccode(self, printer) -> str:
        if self.cpredicate:
            return f"{self.cpredicate}({', '.join(_c_args(printer, self))})"
        return f"{self.cfunc}{_c_suffix(printer)}({', '.join(_c_args(printer, self))})"


class Trunc(_NumpyCall):
    nargs, ufunc, cfunc = 1, "trunc", "trunc"

    @classmethod
    def eval(cls, x):
        if x.is_Number and x.is_finite:
            return sympy.Integer(int(x))
        return None


class Rint(_NumpyCall):
    """Round half to even, as torch.round."""

    nargs, ufunc, cfunc = 1, "rint", "rint"  # C's default rounding mode: half to even

    @classmethod
    def eval(cls, x):
        if x.is_Number and x.is_finite:
            return sympy.Integer(round(float(x)) if x.is_Float else round(sympy.Rational(x)))
        return None


class TorchSign(_NumpyCall):
    """torch.sign: -1, 0 or 1, and 0 for nan (np.sign gives nan)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number and not x is S.NaN:
            return sympy.sign(x)
        return None

    def _numpycode(self, printer) -> str:
        (x,) = _args(printer, self)
        return f"np.where(np.isnan({x}), 0, np.sign({x}))"

    def _ccode(self, printer) -> str:
        (x,) = _args(printer, self)
        return f"((({x}) > 0) - (({x}) < 0))"


class FloorDiv(_NumpyCall):
    """Python's //, as torch.floor_divide and NumPy compute it for floats: from fmod,
    so that the quotient is exact (floor(a/b) can be off by one after rounding)."""

    nargs, ufunc = 2, "floor_divide"

    def _ccode(self, printer) -> str:
        a, b = _c_args(printer, self)
        s, zero, one = _c_suffix(printer), printer._print(S.Zero), printer._print(S.One)
        half = printer._print(sympy.Float(0.5))
        mod = f"fmod{s}({a}, {b})"
        off = f"(({mod} != 0 && (({b} < 0) != ({mod} < 0))) ? {one} : {zero})"
        div = f"(({a} - {mod}) / {b} - {off})"
        rounded = f"(floor{s}({div}) + (({div} - floor{s}({div}) > {half}) ? {one} : {zero}))"
        signed_zero = f"copysign{s}(({_c_real(printer)})0, {a} / {b})"
        return f"({b} == 0 ? {a} / {b} : ({div} == 0 ? {signed_zero} : {rounded}))"


class IsNan(_NumpyCall):
    nargs, ufunc, cpredicate = 1, "isnan", "isnan"


class IsInf(_NumpyCall):
    nargs, ufunc, cpredicate = 1, "isinf", "isinf"


class IsFinite(_NumpyCall):
    nargs, ufunc, cpredicate = 1, "isfinite", "isfinite"


class BitNot(_NumpyCall):
    """~x of an integer tensor (bool tensors go through logical_not)."""

    nargs, ufunc = 1, "invert"

    def _ccode(self, printer) -> str:
        return f"(~({printer._print(self.args[0])}))"


class BitXor(_NumpyCall):
    """x ^ y of integer tensors (bool tensors go through logical_xor)."""

    nargs, ufunc = 2, "bitwise_xor"

    def _ccode(self, printer) -> str:
        a, b = _args(printer, self)
        return f"(({a}) ^ ({b}))"


class Fmod(_NumpyCall):
    """C's fmod: the remainder has the sign of the dividend (torch.fmod)."""

    nargs, ufunc, cfunc = 2, "fmod", "fmod"

    def fdiff(self, argindex=1):
        a, b = self.args
        return S.One if argindex == 1 else -Trunc(a / b)


class Remainder(_NumpyCall):
    """Python's %: the remainder has the sign of the divisor (torch.remainder)."""

    nargs, ufunc = 2, "remainder"

    def fdiff(self, argindex=1):
        a, b = self.args
        return S.One if argindex == 1 else -FloorDiv(a, b)

    def _ccode(self, printer) -> str:
        a, b = _c_args(printer, self)
        mod = f"fmod{_c_suffix(printer)}({a}, {b})"
        return f"(({mod} != 0 && (({mod} < 0) != ({b} < 0))) ? {mod} + {b} : {mod})"


class NonzeroDivisor(sympy.Function):
    """`value`, after checking that the integer divisor has no zero: torch raises
    RuntimeError('ZeroDivisionError') there, NumPy would return 0 with a warning."""

    nargs = 2

    def _eval_derivative(self, s):
        return self.args[0].diff(s)

    def _numpycode(self, printer) -> str:
        value, divisor = _args(printer, self)
        return (f"({value} if np.all({divisor} != 0) else "
                f"(_ for _ in ()).throw(RuntimeError('ZeroDivisionError')))")

    def _ccode(self, printer) -> str:
        return printer._print(self.args[0])  # a kernel cannot raise: no check


class Sigmoid(sympy.Function):
    """1/(1 + exp(-x)), kept opaque: simplify would rewrite derivatives that use it into
    cosh forms that overflow to inf/inf (silu's at x = 1000, say)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex=1):
        return self * (1 - self)

    def _numpycode(self, printer) -> str:
        return f"(1/(1 + np.exp(-{printer.parenthesize(self.args[0], 50)})))"

    def _ccode(self, printer) -> str:
        return f"({printer._print(1 / (1 + sympy.exp(-self.args[0])))})"


class NanToNum(sympy.Function):
    """np.nan_to_num(x, nan=, posinf=, neginf=); the replacements are numbers."""

    nargs = 4

    def fdiff(self, argindex=1):
        return Indicator(IsFinite(self.args[0])) if argindex == 1 else S.Zero

    def _numpycode(self, printer) -> str:
        x, nan, posinf, neginf = _args(printer, self)
        return f"np.nan_to_num({x}, nan={nan}, posinf={posinf}, neginf={neginf})"

    def _ccode(self, printer) -> str:
        x, nan, posinf, neginf = _args(printer, self)
        return (f"(isnan({x}) ? {nan} : (isinf({x}) ? (({x}) > 0 ? {posinf} : {neginf}) "
                f": {x}))")


# ----------------------------------------------------------------- erf and erfc
# NumPy has no erf. These print W. J. Cody's rational approximations (Math. Comp. 1969,
# the netlib CALERF coefficients): accurate to a few ulps in float64, and evaluated in
# the input's own dtype (the coefficients are Python floats, weak under NumPy 2).

_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)


def _horner(v: str, lead: str, coeffs: tuple[float, ...]) -> str:
    """(((lead*v + c0)*v + c1)*v ... + c_{n-1}) as text, Cody's evaluation order."""
    out = lead
    for c in coeffs[:-1]:
        out = f"({out} + {c!r})*{v}"
    return f"{out} + {coeffs[-1]!r}"


# erf(x) for |x| <= 0.46875, over x
_ERF_SMALL = (f"(lambda z: x*({_horner('z', f'{_A[4]!r}*z', _A[:4])})"
              f"/({_horner('z', 'z', _B)}))(x*x)")
# erfc(y) for y = |x| > 0.46875 (y capped at 40, where erfc underflows anyway)
_ERFC_MID = f"({_horner('y', f'{_C[8]!r}*y', _C[:8])})/({_horner('y', 'y', _D)})"
_ERFC_TAIL = (f"(lambda z: (0.5641895835477563 - z*({_horner('z', f'{_P[5]!r}*z', _P[:5])})"
              f"/({_horner('z', 'z', _Q)}))/y)(1.0/(y*y))")
# exp(-y*y) computed as exp(-s*s)*exp(-(y-s)*(y+s)), s = y rounded down to 1/16: exact
_ERFC_BIG = (f"(lambda s: np.exp(-s*s)*np.exp((s - y)*(s + y))*np.where(y <= 4.0, "
             f"{_ERFC_MID}, {_ERFC_TAIL}))(np.trunc(y*16.0)/16.0)")


def _with_abs(x: str, body: str) -> str:
    return f"(lambda x: (lambda y: {body})(np.minimum(np.abs(x), 40.0)))({x})"


_2_SQRTPI = sympy.Float(2 / math.sqrt(math.pi))  # as a number: C would print sqrt(M_PI)


class Erf(sympy.erf):
    def fdiff(self, argindex=1):
        return _2_SQRTPI * sympy.exp(-self.args[0] ** 2)

    def _numpycode(self, printer) -> str:
        body = f"np.where(y <= 0.46875, {_ERF_SMALL}, np.copysign(1.0 - {_ERFC_BIG}, x))"
        return _with_abs(printer._print(self.args[0]), body)

    def _ccode(self, printer) -> str:
        return f"erf{_c_suffix(printer)}({printer._print(self.args[0])})"

    def _sympystr(self, printer) -> str:
        return f"erf({printer._print(self.args[0])})"

    def _eval_evalf(self, prec):
        return sympy.erf(self.args[0])._eval_evalf(prec)


class Erfc(sympy.erfc):
    def fdiff(self, argindex=1):
        return -_2_SQRTPI * sympy.exp(-self.args[0] ** 2)

    def _numpycode(self, printer) -> str:
        body = (f"np.where(y <= 0.46875, 1.0 - {_ERF_SMALL}, "
                f"(lambda e: np.where(x < 0, 2.0 - e, e))({_ERFC_BIG}))")
        return _with_abs(printer._print(self.args[0]), body)

    def _ccode(self, printer) -> str:
        return f"erfc{_c_suffix(printer)}({printer._print(self.args[0])})"

    def _sympystr(self, printer) -> str:
        return f"erfc({printer._print(self.args[0])})"

    def _eval_evalf(self, prec):
        return sympy.erfc(self.args[0])._eval_evalf(prec)


# For a parser that wants these back as themselves (IR text -> sympy), by printed name.
SYMPY_FUNCTIONS: dict[str, type] = {
    c.__name__: c for c in (Indicator, Unless, Trunc, Rint, TorchSign, FloorDiv, IsNan, IsInf,
                            IsFinite, BitNot, BitXor, Fmod, Remainder, NonzeroDivisor,
                            Sigmoid, NanToNum)
} | {"erf": Erf, "erfc": Erfc}
