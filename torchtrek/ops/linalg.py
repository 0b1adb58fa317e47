"""Front-end functions of the linalg family, lowered to registry ops through `bind`."""

from __future__ import annotations

__all__: list[str] = []
METHODS: list[str] = []
