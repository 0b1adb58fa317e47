"""torch.nn.modules.sparse: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import Embedding  # noqa: F401

__all__ = ["Embedding"]
