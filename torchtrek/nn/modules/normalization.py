"""torch.nn.modules.normalization: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import LayerNorm  # noqa: F401

__all__ = ["LayerNorm"]
