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


METHODS: list[Any] = ["type_as", "clamp_", {"clip_": clamp_}, "relu_", "exp_"]
