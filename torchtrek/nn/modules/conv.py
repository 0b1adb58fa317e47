"""torch.nn.modules.conv: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import Conv2d  # noqa: F401

__all__ = ["Conv2d"]
