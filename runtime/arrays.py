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
    """a + b (gradient accumulation). Device arrays add through TorchTrek's own eager
    kernel: pycuda's GPUArray `+` has no float16 kernel and compiles its own at first use."""
    if on_device(a) or on_device(b):
        from ..autograd import no_grad
        from ..tensor import Tensor

        with no_grad():
            return (Tensor._wrap(a) + Tensor._wrap(b))._data
    return a + b


def copy(a: Any, order: str = "K") -> Any:
    """A copy of `a`; on the host in NumPy's `order` ("K": the layout `a` has, "C": row-major)."""
    if on_device(a):
        if a.size == 0:  # pycuda's copy of an empty array copies from a null pointer
            from . import cuda

            return cuda.alloc(a.shape, a.dtype)
        return a.copy()
    return np.array(a, copy=True, order=order)


def copy_into(dst: Any, src: Any) -> None:
    """dst[...] = src, in place (dst keeps its memory, as a parameter must), across
    devices, casting as NumPy's unsafe casting does and broadcasting src to dst."""
    if on_device(dst):
        from . import cuda

        if on_device(src) and src.dtype == dst.dtype and src.shape == dst.shape:
            if dst.nbytes:
                cuda.init().memcpy_dtod(dst.gpudata, src.gpudata, src.nbytes)
            return
        # another dtype or shape (rare: `int_tensor += 0.5`): through the host
        host = cuda.to_host(src) if on_device(src) else np.asarray(src)
        host = np.broadcast_to(host.astype(dst.dtype, copy=False), dst.shape)
        if dst.size:
            dst.set(np.require(host, requirements="C"))
    else:
        if on_device(src):
            from . import cuda

            src = cuda.to_host(src)
        np.copyto(dst, src, casting="unsafe")
