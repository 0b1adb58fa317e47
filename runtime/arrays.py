"""The few array operations the autograd engine and the runtime need, for host (NumPy)
and device (pycuda GPUArray) arrays alike."""

from __future__ import annotations

from typing import Any

import numpy as np


def on_device(a: Any) -> bool:
    return not isinstance(a, np.ndarray) and hasattr(a, "gpudata")


def full_like_spec(shape: tuple[int, ...], dtype: Any, value: float, like: Any) -> Any:
    host = np.full(shape, value, dtype)
    if on_device(like):
        from . import cuda

        return cuda.to_device(host)
    return host


def add(a: Any, b: Any) -> Any:
    return a + b  # GPUArray and ndarray both add elementwise (same shape here)


def copy(a: Any) -> Any:
    return a.copy() if on_device(a) else np.array(a, copy=True)


def copy_into(dst: Any, src: Any) -> None:
    """dst[...] = src, in place (dst keeps its memory, as a parameter must)."""
    if on_device(dst):
        from . import cuda

        drv = cuda.init()
        if on_device(src):
            drv.memcpy_dtod(dst.gpudata, src.gpudata, src.nbytes)
        else:
            dst.set(np.ascontiguousarray(src, dtype=dst.dtype))
    else:
        np.copyto(dst, src, casting="unsafe")
