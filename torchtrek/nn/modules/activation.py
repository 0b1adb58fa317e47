"""torch.nn.modules.activation: where torch keeps these classes (defined in layers.py)."""

from __future__ import annotations

from ..layers import ReLU, SiLU, LeakyReLU, ELU, GELU, Softplus, Tanh, Sigmoid, Softmax, LogSoftmax, Identity  # noqa: F401
from .transformer import MultiheadAttention  # noqa: F401

__all__ = ["ReLU", "SiLU", "LeakyReLU", "ELU", "GELU", "Softplus", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Identity", "MultiheadAttention"]
