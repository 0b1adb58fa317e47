"""torch.accelerator: the current accelerator (CUDA through pycuda, when a GPU is there)."""

from __future__ import annotations

from typing import Any

from .devices import cuda, device


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count() if cuda.is_available() else 0


def current_device_index() -> int:
    return 0


def synchronize(device: Any = None) -> None:
    if cuda.is_available():
        cuda.synchronize()
