"""Ops of the math family: pointwise functions and activations, one OpDef each.

Every op is a sympy formula (see core.py for the conventions). The gradient is sympy's
derivative unless torch's convention differs (kinks, ties, piecewise-constant ops) or
sympy's form is numerically worse than torch's; then `grad` gives torch's rule. Operands
arrive promoted to one dtype by the front end (torchtrek/ops/math.py).
"""

from __future__ import annotations

from typing import Any, Sequence

import math

import sympy
from sympy import And, Eq, Max, Min, Or, Piecewise, Rational, exp, sqrt, tanh
from sympy.codegen.cfunctions import exp2, expm1, hypot, log1p, log2, log10

from .. import dtypes
from .. import parser as _parser
from ..graph import TensorType
from ..opdef import OpDef, register
from ..shapes import broadcast_shapes
from ..symbolic import literal_number
from .core import infer_pointwise
from .math_functions import (SYMPY_FUNCTIONS, BitNot, BitXor, Erf, Erfc, FloorDiv, Fmod,
                             Indicator, IsFinite, IsInf, IsNan, NanToNum, NonzeroDivisor,
                             Remainder, Rint, Sigmoid, TorchSign, Trunc, Unless)

# IR text names these functions; the parser must read them back as these classes (an
# unknown name parses as a plain sympy function, which orders differently in products
# and cannot print as NumPy). Until the parser takes this table itself, register it.
if hasattr(_parser, "_sympy_locals"):
    _parser._sympy_locals().update(SYMPY_FUNCTIONS)


def _infer_bool(types: Sequence[TensorType], attrs: dict[str, Any]) -> tuple[TensorType, ...]:
    return (TensorType(broadcast_shapes(*(t.shape for t in types)), dtypes.bool_),)


def _op(name: str, formula, torch_name: str, grad=None, infer=infer_pointwise,
        differentiable: bool = True) -> None:
    register(OpDef(name, "pointwise", infer, formula=formula, grad=grad,
                   torch_name=torch_name, differentiable=differentiable))


def _zero_grad(*xs, out, **attrs):
    """Piecewise-constant ops: torch's gradient is zero everywhere (sympy's would be an
    unevaluated Derivative or a DiracDelta)."""
    return [0] * len(xs)


def _num(v: float) -> sympy.Expr:
    """An attr value in a formula: 2.0 as the integer 2, so int tensors stay int."""
    return literal_number(v)


# Irrational constants as numbers: sqrt(2) or log(2) would print in C as calls with
# integer arguments (a host-only constexpr overload in CUDA).
_LN2, _LN10 = sympy.Float(math.log(2)), sympy.Float(math.log(10))


# ---------------------------------------------------------------- clamp, maximum, minimum
# torch: x gets the gradient where min <= x <= max; a tensor bound gets it where it is
# the one in force (min only while min < max: with min > max the result is max).
_op("clamp", lambda x, lo, hi: Min(Max(x, lo), hi), "Clamp", grad=lambda x, lo, hi, out: [
    Indicator(And(x >= lo, x <= hi)),
    Indicator(And(x < lo, lo < hi)),
    Indicator(Or(x > hi, hi < lo)),
])
_op("clamp_min", lambda x, lo: Max(x, lo), "ClampMin",
    grad=lambda x, lo, out: [Indicator(x >= lo), Indicator(x < lo)])
_op("clamp_max", lambda x, hi: Min(x, hi), "ClampMax",
    grad=lambda x, hi, out: [Indicator(x <= hi), Indicator(x > hi)])
# torch splits the gradient evenly on ties; with a nan both sides get all of it
_op("maximum", Max, "Maximum", grad=lambda a, b, out: [
    Piecewise((Rational(1, 2), Eq(a, b)), (0, a < b), (1, True)),
    Piecewise((Rational(1, 2), Eq(a, b)), (0, a > b), (1, True)),
])
_op("minimum", Min, "Minimum", grad=lambda a, b, out: [
    Piecewise((Rational(1, 2), Eq(a, b)), (0, a > b), (1, True)),
    Piecewise((Rational(1, 2), Eq(a, b)), (0, a < b), (1, True)),
])

# ---------------------------------------------------------------- rounding and sign
_op("floor", sympy.floor, "Floor", grad=_zero_grad)
_op("ceil", sympy.ceiling, "Ceil", grad=_zero_grad)
_op("trunc", Trunc, "Trunc", grad=_zero_grad)


def _round(x, decimals: int = 0):
    # torch: nearbyint(x * 10**d) / 10**d, or nearbyint(x / 10**-d) * 10**-d for d < 0
    if decimals >= 0:
        scale = sympy.Integer(10) ** decimals
        return Rint(x * scale) / scale if decimals else Rint(x)
    scale = sympy.Integer(10) ** -decimals
    return Rint(x / scale) * scale


_op("round", _round, "Round", grad=_zero_grad)
_op("frac", lambda x: x - Trunc(x), "Frac", grad=lambda x, out: [1])
_op("sign", TorchSign, "Sign", grad=_zero_grad)

# ---------------------------------------------------------------- powers, exp and log
_op("reciprocal", lambda x: 1 / x, "Reciprocal")
_op("rsqrt", lambda x: 1 / sqrt(x), "Rsqrt")
_op("log1p", log1p, "Log1P")
_op("expm1", expm1, "Expm1", grad=lambda x, out: [out + 1])
_op("log2", log2, "Log2", grad=lambda x, out: [1 / (x * _LN2)])
_op("log10", log10, "Log10", grad=lambda x, out: [1 / (x * _LN10)])
_op("exp2", exp2, "Exp2", grad=lambda x, out: [out * _LN2])
_op("erf", Erf, "Erf")  # Erf.fdiff: 2/sqrt(pi) * exp(-x**2), the constant as a number
_op("erfc", Erfc, "Erfc")
_op("hypot", hypot, "Hypot", grad=lambda a, b, out: [a / out, b / out])

# ---------------------------------------------------------------- trigonometric, hyperbolic
for _name, _fn in [("tan", sympy.tan), ("asin", sympy.asin), ("acos", sympy.acos),
                   ("atan", sympy.atan), ("sinh", sympy.sinh), ("cosh", sympy.cosh),
                   ("asinh", sympy.asinh), ("atanh", sympy.atanh)]:
    _op(_name, _fn, _name.capitalize())
# sympy's 1/(sqrt(x - 1)*sqrt(x + 1)) is torch's (x**2 - 1)**-1/2 only up to rounding
_op("acosh", sympy.acosh, "Acosh", grad=lambda x, out: [1 / sqrt(x**2 - 1)])


def _atan2_grad(a, b, out):
    # torch zeroes the gradient where a**2 + b**2 is 0 (the origin, or underflow)
    r = a**2 + b**2
    return [Piecewise((0, Eq(r, 0)), (b / r, True)), Piecewise((0, Eq(r, 0)), (-a / r, True))]


_op("atan2", sympy.atan2, "Atan2", grad=_atan2_grad)

# ---------------------------------------------------------------- division and remainders
# `checked` (integer dtypes): torch raises RuntimeError('ZeroDivisionError') on a zero
# divisor; the check is part of the kernel, so eager and compiled code both raise.


def _checked(value, b, checked: bool = False):
    return NonzeroDivisor(value, b) if checked else value


_op("fmod", lambda a, b, checked=False: _checked(Fmod(a, b), b, checked), "Fmod",
    grad=lambda a, b, out, checked=False: [1, -Trunc(a / b)])
_op("remainder", lambda a, b, checked=False: _checked(Remainder(a, b), b, checked),
    "Remainder", grad=lambda a, b, out, checked=False: [1, -FloorDiv(a, b)])
# torch defines no derivative for floor_divide
_op("floor_divide", lambda a, b, checked=False: _checked(FloorDiv(a, b), b, checked),
    "FloorDivide", differentiable=False)
# torch.lerp's two-sided form: exact at weight 0 and at weight 1
_op("lerp", lambda s, e, w: Piecewise((s + w * (e - s), abs(w) < Rational(1, 2)),
                                      (e - (e - s) * (1 - w), True)),
    "Lerp", grad=lambda s, e, w, out: [1 - w, w, e - s])

# ---------------------------------------------------------------- predicates and bits
_op("isnan", IsNan, "Isnan", infer=_infer_bool, differentiable=False)
_op("isinf", IsInf, "Isinf", infer=_infer_bool, differentiable=False)
_op("isfinite", IsFinite, "Isfinite", infer=_infer_bool, differentiable=False)
_op("bitwise_not", BitNot, "BitwiseNot", differentiable=False)
_op("bitwise_xor", BitXor, "BitwiseXor", differentiable=False)


def _nan_to_num(x, nan: float = 0.0, posinf: float = 0.0, neginf: float = 0.0):
    return NanToNum(x, sympy.Float(nan), sympy.Float(posinf), sympy.Float(neginf))


_op("nan_to_num", _nan_to_num, "NanToNum", grad=lambda x, out, **_: [Indicator(IsFinite(x))])

# ---------------------------------------------------------------- activations
_SQRT1_2 = sympy.Float(math.sqrt(0.5))
_PDF = sympy.Float(1 / math.sqrt(2 * math.pi))  # the normal density at 0
_GELU_BETA = sympy.Float(math.sqrt(2 / math.pi))  # tanh form: tanh(beta*(x + kappa*x**3))
_GELU_KAPPA = sympy.Float("0.044715")


def _gelu(x, approximate: str = "none"):
    if approximate == "tanh":
        return x * (1 + tanh(_GELU_BETA * (x + _GELU_KAPPA * x**3))) / 2
    return x * (1 + Erf(x * _SQRT1_2)) / 2


def _gelu_grad(x, out, approximate: str = "none"):
    if approximate == "tanh":
        t = tanh(_GELU_BETA * (x + _GELU_KAPPA * x**3))
        return [(1 + t) / 2 + x * (1 - t**2) * _GELU_BETA * (1 + 3 * _GELU_KAPPA * x**2) / 2]
    return [(1 + Erf(x * _SQRT1_2)) / 2 + x * exp(-x**2 / 2) * _PDF]


_op("gelu", _gelu, "Gelu", grad=_gelu_grad)
# sympy's derivative of x/(1 + exp(-x)) is inf/inf = nan for x << 0; torch's is not
_op("silu", lambda x: x * Sigmoid(x), "Silu",
    grad=lambda x, out: [Sigmoid(x) * (1 + x * (1 - Sigmoid(x)))])


def _softplus(x, beta: float = 1.0, threshold: float = 20.0):
    b, t = _num(beta), _num(threshold)
    return Piecewise((x, x * b > t), (log1p(exp(b * x)) / b, True))


def _softplus_grad(x, out, beta: float = 1.0, threshold: float = 20.0):
    b, t = _num(beta), _num(threshold)
    z = exp(b * x)
    return [Piecewise((1, x * b > t), (z / (z + 1), True))]


_op("softplus", _softplus, "Softplus", grad=_softplus_grad)


# elu, selu and celu: scale * (x if x > 0 else alpha * expm1(x * input_scale))
def _elu(x, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    a, s, i = _num(alpha), _num(scale), _num(input_scale)
    return Piecewise((s * x, x > 0), (s * a * expm1(i * x), True))


def _elu_grad(x, out, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    # torch tests x <= 0, so nan takes the linear side's gradient
    a, s, i = _num(alpha), _num(scale), _num(input_scale)
    return [Piecewise((s * a * i * exp(i * x), x <= 0), (s, True))]


_op("elu", _elu, "Elu", grad=_elu_grad)
_op("leaky_relu",
    lambda x, negative_slope=0.01: Piecewise((x, x > 0), (x * _num(negative_slope), True)),
    "LeakyRelu", grad=lambda x, out, negative_slope=0.01: [
        Piecewise((1, x > 0), (_num(negative_slope), True))])
# hardtanh's gradient is 0 on the boundary (clamp's is 1) and passes at nan
_op("hardtanh", lambda x, min_val=-1.0, max_val=1.0: Min(Max(x, _num(min_val)), _num(max_val)),
    "Hardtanh", grad=lambda x, out, min_val=-1.0, max_val=1.0: [
        Unless(Or(x <= _num(min_val), x >= _num(max_val)))])
# log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow either side
_op("logsigmoid", lambda x: Min(x, 0) - log1p(exp(-abs(x))), "LogSigmoid",
    grad=lambda x, out: [1 / (1 + exp(x))])


def _mish_grad(x, out):
    t = tanh(log1p(exp(x)))
    return [t + x * Sigmoid(x) * (1 - t**2)]


_op("mish", lambda x: x * tanh(log1p(exp(x))), "Mish", grad=_mish_grad)
