"""torch.nn.modules.pooling: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import MaxPool2d, AvgPool2d  # noqa: F401

__all__ = ["MaxPool2d", "AvgPool2d"]
