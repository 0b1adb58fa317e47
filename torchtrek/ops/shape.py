"""Front-end functions of the shape family, lowered to registry ops through `bind`."""

from __future__ import annotations

__all__: list[str] = []
METHODS: list[str] = []
