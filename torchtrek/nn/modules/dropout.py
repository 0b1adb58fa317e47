"""torch.nn.modules.dropout: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import Dropout  # noqa: F401

__all__ = ["Dropout"]
