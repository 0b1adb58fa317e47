"""torch.nn.modules.container: where torch keeps these classes (defined in containers.py)."""

from __future__ import annotations

from ..containers import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]
