"""torch.nn.modules.flatten: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import Flatten  # noqa: F401

__all__ = ["Flatten"]
