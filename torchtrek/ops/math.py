"""Front-end functions of the math family, lowered to registry ops through `bind`."""

from __future__ import annotations

__all__: list[str] = []
METHODS: list[str] = []
