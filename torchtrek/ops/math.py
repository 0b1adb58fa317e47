"""Front-end functions of the math family, lowered to registry ops through `bind`.

Pointwise math with torch's signatures, type promotion and errors: clamp/clip,
maximum/minimum, rounding, sign, reciprocal/rsqrt/square, log1p/expm1/log2/log10/exp2,
erf/erfc, trigonometric and hyperbolic functions (with torch's arc* aliases), atan2,
hypot, fmod/remainder/floor_divide (integer division by zero raises), lerp, logical_xor,
bitwise_not/xor, isnan/isinf/isfinite, nan_to_num. Activations (gelu, silu, softplus, ...)
live in activations.py and are re-exported here for torchtrek.nn.functional.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from .._dispatch import bind
from ..ir import dtypes
from ..ir.dtypes import DType
from ..ir.graph import Literal
from ._math_common import int_literal_zero, not_implemented, require_tensor, tensor_cls
from .activations import (celu, elu, gelu, hardtanh, leaky_relu, logsigmoid, mish,  # noqa: F401
                          relu6, selu, silu, softplus)

__all__: list[str] = [
    "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "floor", "ceil", "round",
    "trunc", "fix", "frac", "sign", "sgn", "reciprocal", "rsqrt", "square", "log1p", "expm1",
    "log2", "log10", "exp2", "erf", "erfc", "tan", "asin", "acos", "atan", "sinh", "cosh",
    "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
    "atan2", "arctan2", "hypot", "fmod", "remainder", "floor_divide", "lerp", "logical_xor",
    "bitwise_not", "bitwise_xor", "isnan", "isinf", "isfinite", "nan_to_num", "celu", "selu",
]
METHODS: list[Any] = [m for m in __all__ if m not in ("celu", "selu")] + [{
    # operators torch defines on tensors that tensor.py leaves to this family
    "__invert__": lambda x: _invert(x),
    "__xor__": lambda x, o: bitwise_xor(x, o), "__rxor__": lambda x, o: bitwise_xor(o, x),
    "__floordiv__": lambda x, o: floor_divide(x, o),
    "__rfloordiv__": lambda x, o: floor_divide(o, x),
    "__mod__": lambda x, o: remainder(x, o), "__rmod__": lambda x, o: remainder(o, x),
}]
ACTIVATIONS = ["gelu", "silu", "softplus", "elu", "selu", "celu", "leaky_relu", "hardtanh",
               "relu6", "logsigmoid", "mish"]


def _default_float() -> DType:
    return F.get_default_dtype()


def _to_float(x: Any) -> Any:
    return x if x.dtype.is_floating_point else F.cast(x, _default_float())


# ----------------------------------------------------------------- unary ops


def _float_unary(op: str, name: str | None = None):
    """A float function: integer and bool inputs give the default float dtype."""
    name = name or op

    def fn(input: Any) -> Any:
        require_tensor(name, input)
        return bind(op, [_to_float(input)])

    fn.__name__ = name
    fn.__doc__ = f"torch.{name}: elementwise, integer inputs give the default float dtype."
    return fn


log1p, expm1, log2, log10, exp2 = map(_float_unary, ("log1p", "expm1", "log2", "log10", "exp2"))
erf, erfc, reciprocal, rsqrt = map(_float_unary, ("erf", "erfc", "reciprocal", "rsqrt"))
tan, asin, acos, atan = map(_float_unary, ("tan", "asin", "acos", "atan"))
sinh, cosh, asinh, acosh, atanh = map(_float_unary, ("sinh", "cosh", "asinh", "acosh", "atanh"))
# torch's NumPy-style aliases
arcsin, arccos, arctan = (_float_unary(n, "arc" + n[1:]) for n in ("asin", "acos", "atan"))
arcsinh, arccosh, arctanh = (_float_unary(n, "arc" + n[1:]) for n in ("asinh", "acosh", "atanh"))


def _copy(x: Any) -> Any:
    """A new tensor with x's values (torch returns one where the op is the identity)."""
    return F.logical_and(x, True) if x.dtype is dtypes.bool_ else F.mul(x, 1)


def _rounding(op: str, kernel: str):
    def fn(input: Any) -> Any:
        require_tensor(op, input)
        if input.dtype is dtypes.bool_:
            not_implemented(kernel, input.dtype)
        return bind(op, [input]) if input.dtype.is_floating_point else _copy(input)

    fn.__name__ = op
    fn.__doc__ = f"torch.{op}: integer inputs come back unchanged (a copy)."
    return fn


floor = _rounding("floor", "floor_vml_cpu")
ceil = _rounding("ceil", "ceil_vml_cpu")
trunc = _rounding("trunc", "trunc_vml_cpu")
fix = trunc


def round(input: Any, *, decimals: int = 0) -> Any:
    """torch.round: half to even; `decimals` rounds to that many decimal places."""
    require_tensor("round", input)
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    if decimals == 0:
        if input.dtype is dtypes.bool_:
            not_implemented("round_vml_cpu", input.dtype)
        return bind("round", [input]) if input.dtype.is_floating_point else _copy(input)
    if not input.dtype.is_floating_point:
        not_implemented("round_cpu", input.dtype)
    return bind("round", [input], {"decimals": decimals}, grad_name="RoundBackward1")


def frac(input: Any) -> Any:
    require_tensor("frac", input)
    if not input.dtype.is_floating_point:
        not_implemented("frac_cpu", input.dtype)
    return bind("frac", [input])


def sign(input: Any) -> Any:
    """torch.sign: -1, 0 or 1 (0 for nan); bool tensors come back unchanged."""
    require_tensor("sign", input)
    return _copy(input) if input.dtype is dtypes.bool_ else bind("sign", [input])


def sgn(input: Any) -> Any:
    """torch.sgn: sign for real tensors."""
    require_tensor("sgn", input)
    if input.dtype is dtypes.bool_:
        return _copy(input)
    return bind("sign", [input], grad_name="SgnBackward0")


def square(input: Any) -> Any:
    """torch.square: input ** 2 (integers stay integers, bool gives int64)."""
    require_tensor("square", input)
    return F.pow(input, 2)


# ----------------------------------------------------------------- clamp


def _bound_is_tensor(b: Any) -> bool:
    return isinstance(b, tensor_cls())


def clamp(input: Any, min: Any = None, max: Any = None) -> Any:
    """torch.clamp: min and/or max as numbers or tensors (broadcast); the result dtype
    promotes over all three. Where min > max the result is max."""
    require_tensor("clamp", input)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    for arg, b in (("min", min), ("max", max)):
        if b is not None and not _bound_is_tensor(b) and not isinstance(b, (bool, int, float)):
            raise TypeError(f"clamp(): argument '{arg}' must be Number or Tensor, "
                            f"not {type(b).__name__}")
    bounds = [b for b in (min, max) if b is not None]
    if len(bounds) == 2 and _bound_is_tensor(min) != _bound_is_tensor(max):
        t = min if _bound_is_tensor(min) else max
        if t.ndim or t.requires_grad:  # torch takes a plain 0-d tensor as a Number
            got = ", ".join("Tensor" if _bound_is_tensor(b) else type(b).__name__
                            for b in (input, min, max))
            raise TypeError(
                f"clamp() received an invalid combination of arguments - got ({got}), but "
                "expected one of:\n * (Tensor input, Tensor min = None, Tensor max = None, *, "
                "Tensor out = None)\n * (Tensor input, Number min = None, Number max = None, *, "
                "Tensor out = None)")
    dtype = F.result_type(input, *bounds)
    tensors = any(_bound_is_tensor(b) for b in bounds)
    x = F._as_operand(input, dtype)
    if min is not None and max is not None:
        return bind("clamp", [x, F._as_operand(min, dtype), F._as_operand(max, dtype)],
                    grad_name="ClampBackward0" if tensors else "ClampBackward1")
    op, bound = ("clamp_min", min) if min is not None else ("clamp_max", max)
    name = "ClampBackward0" if tensors else "ClampBackward1"
    return bind(op, [x, F._as_operand(bound, dtype)], grad_name=name)


clip = clamp


def _clamp_one_side(op: str, input: Any, bound: Any) -> Any:
    require_tensor(op, input)
    dtype = F.result_type(input, bound)
    # torch names the node after the bound's kind: ClampMinBackward0 (number), ...1 (tensor)
    name = ("ClampMin" if op == "clamp_min" else "ClampMax") + \
        f"Backward{1 if _bound_is_tensor(bound) else 0}"
    return bind(op, [F._as_operand(input, dtype), F._as_operand(bound, dtype)], grad_name=name)


def clamp_min(input: Any, min: Any) -> Any:
    return _clamp_one_side("clamp_min", input, min)


def clamp_max(input: Any, max: Any) -> Any:
    return _clamp_one_side("clamp_max", input, max)


# ----------------------------------------------------------------- binary ops


def _tensor_binary(op: str, a: Any, b: Any, *, float_result: bool = False,
                   kernel: str | None = None, grad_name: str | None = None) -> Any:
    """Both operands tensors (torch's signature takes no numbers here), promoted."""
    require_tensor(op, a)
    require_tensor(op, b, "other", 2)
    dtype = F.result_type(a, b)
    if kernel is not None and not dtype.is_floating_point:
        not_implemented(kernel, dtype)
    if float_result and not dtype.is_floating_point:
        dtype = _default_float()
    return bind(op, [F._as_operand(a, dtype), F._as_operand(b, dtype)], grad_name=grad_name)


def maximum(input: Any, other: Any) -> Any:
    return _tensor_binary("maximum", input, other)


def minimum(input: Any, other: Any) -> Any:
    return _tensor_binary("minimum", input, other)


def atan2(input: Any, other: Any) -> Any:
    """torch.atan2(y, x): integer inputs give the default float dtype."""
    return _tensor_binary("atan2", input, other, float_result=True)


arctan2 = atan2


def hypot(input: Any, other: Any) -> Any:
    return _tensor_binary("hypot", input, other, kernel="hypot_cpu")


def _division(op: str, kernel: str, a: Any, b: Any, *, number_first: bool) -> Any:
    """fmod / remainder / floor_divide: integers stay integers and raise on a zero
    divisor (the kernel checks tensors; a zero number is caught here)."""
    Tensor = tensor_cls()
    if not isinstance(a, Tensor) and not number_first:
        require_tensor(op, a)
    F._check_operands(a, b)
    dtype = F.result_type(a, b)
    if dtype is dtypes.bool_:
        not_implemented(kernel, dtype)
    checked = not dtype.is_floating_point
    if checked and int_literal_zero(b):
        raise RuntimeError("ZeroDivisionError")
    attrs = {"checked": True} if checked and isinstance(b, Tensor) else {}
    name = None if op == "floor_divide" else (
        f"{op.capitalize()}Backward{1 if isinstance(b, Tensor) else 0}")
    return bind(op, [F._as_operand(a, dtype), F._as_operand(b, dtype)], attrs, grad_name=name)


def fmod(input: Any, other: Any) -> Any:
    """torch.fmod: C's remainder, with the sign of the dividend."""
    return _division("fmod", "fmod_cpu", input, other, number_first=False)


def remainder(input: Any, other: Any) -> Any:
    """torch.remainder: Python's %, with the sign of the divisor."""
    return _division("remainder", "remainder_cpu", input, other, number_first=True)


def floor_divide(input: Any, other: Any) -> Any:
    """torch.floor_divide: rounds the quotient toward -inf (Python's //). Like torch, it
    has no derivative (torch raises at backward; here the result needs no grad)."""
    return _division("floor_divide", "div_floor_cpu", input, other, number_first=True)


def lerp(input: Any, end: Any, weight: Any) -> Any:
    """torch.lerp: input + weight * (end - input), weight a number or a tensor."""
    require_tensor("lerp", input)
    require_tensor("lerp", end, "end", 2)
    if end.dtype is not input.dtype:
        raise RuntimeError(f"expected dtype {_c_name(input.dtype)} for `end` but got dtype "
                           f"{_c_name(end.dtype)}")
    if not input.dtype.is_floating_point:
        not_implemented("lerp_kernel_scalar" if not isinstance(weight, tensor_cls())
                        else "lerp_kernel_tensor", input.dtype)
    Tensor = tensor_cls()
    if isinstance(weight, Tensor):
        if weight.dtype is not input.dtype and weight.ndim:
            raise RuntimeError(f"expected dtype {_c_name(input.dtype)} for `weight` but got "
                               f"dtype {_c_name(weight.dtype)}")
        return bind("lerp", [input, end, F._as_operand(weight, input.dtype)],
                    grad_name="LerpBackward1")
    if not isinstance(weight, (int, float)) or isinstance(weight, bool):
        raise TypeError(f"lerp(): argument 'weight' must be Number or Tensor, "
                        f"not {type(weight).__name__}")
    w = Literal(float(weight), input.dtype)
    return bind("lerp", [input, end, w], grad_name="LerpBackward0")


def _c_name(d: DType) -> str:
    return {"float32": "float", "float64": "double", "float16": "c10::Half"}.get(d.name, d.name)


# ----------------------------------------------------------------- logical and bitwise


def logical_xor(input: Any, other: Any) -> Any:
    require_tensor("logical_xor", input)
    require_tensor("logical_xor", other, "other", 2)
    return F.ne(F._as_bool(input), F._as_bool(other))


def bitwise_not(input: Any) -> Any:
    """~x: two's complement for integers, logical not for bool."""
    require_tensor("bitwise_not", input)
    if input.dtype.is_floating_point:
        not_implemented("bitwise_not_cpu", input.dtype)
    if input.dtype is dtypes.bool_:
        return F.logical_not(input)
    return bind("bitwise_not", [input])


def bitwise_xor(input: Any, other: Any) -> Any:
    F._check_operands(input, other)
    dtype = F.result_type(input, other)
    if dtype.is_floating_point:
        not_implemented("bitwise_xor_cpu", dtype)
    if dtype is dtypes.bool_:
        return F.ne(input, other)
    return bind("bitwise_xor", [F._as_operand(input, dtype), F._as_operand(other, dtype)])


def _invert(x: Any) -> Any:
    if x.dtype.is_floating_point:
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(x)


# ----------------------------------------------------------------- predicates


def _predicate(op: str):
    def fn(input: Any) -> Any:
        require_tensor(op, input)
        return bind(op, [input])

    fn.__name__ = op
    fn.__doc__ = f"torch.{op}: a bool tensor."
    return fn


isnan, isinf, isfinite = (_predicate(n) for n in ("isnan", "isinf", "isfinite"))


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """torch.nan_to_num: infinities become the dtype's largest finite values by default."""
    require_tensor("nan_to_num", input)
    if not input.dtype.is_floating_point:
        return _copy(input)
    info = np.finfo(input.dtype.name)
    attrs = {"nan": float(nan), "posinf": float(info.max if posinf is None else posinf),
             "neginf": float(info.min if neginf is None else neginf)}
    return bind("nan_to_num", [input], attrs)
