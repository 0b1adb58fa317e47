"""Activation functions as pointwise ops (part of the math family).

Signatures follow torch.nn.functional (torchtrek.nn.functional re-exports these); torch
has only selu and celu at top level, so only those are exported as `tt.NAME` (from
math.py). `inplace=True` writes the result into the input where that input needs no
gradient and holds data; otherwise the result is returned as a new tensor.
"""

from __future__ import annotations

from typing import Any, Callable

from .._dispatch import bind
from ..ir import dtypes
from ._math_common import not_implemented, require_tensor

__all__: list[str] = []
METHODS: list[Any] = []

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float_only(fn: str, kernel: str, x: Any) -> None:
    require_tensor(fn, x)
    if not x.dtype.is_floating_point:
        not_implemented(kernel, x.dtype)


def _result(x: Any, compute: Callable[[], Any], inplace: bool) -> Any:
    """compute() out of place, or written into x (inplace=True). A non-leaf that needs
    a gradient gets the out-of-place result: torch records the in-place op, we cannot."""
    if not inplace or (x.requires_grad and (x.grad_fn is not None or x._var is not None)):
        return compute()
    return x._inplace(compute)


def gelu(input: Any, *, approximate: str = "none") -> Any:
    """x * Phi(x), Phi the normal CDF (erf form), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only("gelu", "GeluKernelImpl", input)
    attrs = {"approximate": "tanh"} if approximate == "tanh" else {}
    return bind("gelu", [input], attrs)


def silu(input: Any, inplace: bool = False) -> Any:
    """x * sigmoid(x)."""
    _float_only("silu", "silu_cpu", input)
    return _result(input, lambda: bind("silu", [input]), inplace)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    _float_only("softplus", "softplus_cpu", input)
    return bind("softplus", [input], {"beta": float(beta), "threshold": float(threshold)})


def _elu(input: Any, alpha: float, scale: float, input_scale: float, inplace: bool,
         fn: str) -> Any:
    _float_only(fn, "elu_cpu", input)
    attrs = {"alpha": float(alpha), "scale": float(scale), "input_scale": float(input_scale)}
    name = "CeluBackward0" if fn == "celu" else None
    return _result(input, lambda: bind("elu", [input], attrs, grad_name=name), inplace)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _elu(input, alpha, 1.0, 1.0, inplace, "elu")


def selu(input: Any, inplace: bool = False) -> Any:
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace, "selu")


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace, "celu")


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """x for x > 0, negative_slope * x otherwise."""
    _float_only("leaky_relu", "leaky_relu_cpu", input)
    attrs = {"negative_slope": float(negative_slope)}
    return _result(input, lambda: bind("leaky_relu", [input], attrs), inplace)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Any:
    """x clamped to [min_val, max_val]; the gradient is 0 on the boundary."""
    require_tensor("hardtanh", input)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input.dtype is dtypes.bool_:
        not_implemented("clamp_scalar_cpu", input.dtype)
    attrs = {"min_val": float(min_val), "max_val": float(max_val)}
    return _result(input, lambda: bind("hardtanh", [input], attrs), inplace)


def relu6(input: Any, inplace: bool = False) -> Any:
    """hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def logsigmoid(input: Any) -> Any:
    """log(sigmoid(x)), computed without overflow for large |x|."""
    _float_only("logsigmoid", "log_sigmoid_cpu", input)
    return bind("logsigmoid", [input])


def mish(input: Any, inplace: bool = False) -> Any:
    """x * tanh(softplus(x))."""
    _float_only("mish", "mish_cpu", input)
    return _result(input, lambda: bind("mish", [input]), inplace)

