"""torch.nn.modules.linear: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import Linear, Identity  # noqa: F401
from .transformer import NonDynamicallyQuantizableLinear  # noqa: F401

__all__ = ["Linear", "Identity", "NonDynamicallyQuantizableLinear"]
