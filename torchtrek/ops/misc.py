"""Small Tensor conveniences torch code uses: type_as, clamp_ and friends."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []


def type_as(x: Any, other: Any) -> Any:
    return x.to(other.dtype)


def clamp_(x: Any, min: Any = None, max: Any = None) -> Any:
    from . import math as _math

    return x._inplace(lambda: _math.clamp(x, min, max))


def relu_(x: Any) -> Any:
    from .. import functional as F

    return x._inplace(lambda: F.relu(x))


def exp_(x: Any) -> Any:
    from .. import functional as F

    return x._inplace(lambda: F.exp(x))


def _like(x: Any, dtype: Any, device: Any) -> dict[str, Any]:
    return {"dtype": x.dtype if dtype is None else dtype,
            "device": x.device if device is None else device}


def _size_args(size: tuple) -> Any:
    return size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def new_zeros(x: Any, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, **_: Any) -> Any:
    """A tensor of zeros with x's dtype and device (unless given), as torch's x.new_zeros."""
    from ..creation import zeros

    return zeros(_size_args(size), requires_grad=requires_grad, **_like(x, dtype, device))


def new_ones(x: Any, *size: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, **_: Any) -> Any:
    from ..creation import ones

    return ones(_size_args(size), requires_grad=requires_grad, **_like(x, dtype, device))


def new_empty(x: Any, *size: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, **_: Any) -> Any:
    from ..creation import empty

    return empty(_size_args(size), requires_grad=requires_grad, **_like(x, dtype, device))


def new_full(x: Any, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, **_: Any) -> Any:
    from ..creation import full

    return full(size, fill_value, requires_grad=requires_grad, **_like(x, dtype, device))


def new_tensor(x: Any, data: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, **_: Any) -> Any:
    """A copy of `data` as a tensor with x's dtype and device (unless given)."""
    import warnings

    from ..creation import tensor
    from ..tensor import Tensor

    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                      "requires_grad_(True), rather than tensor.new_tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        data = data.detach().numpy()
    return tensor(data, requires_grad=requires_grad, **_like(x, dtype, device))


METHODS: list[Any] = ["type_as", "clamp_", {"clip_": clamp_}, "relu_", "exp_", "new_zeros",
                      "new_ones", "new_empty", "new_full", "new_tensor"]
