"""Fake pycuda.tools: DeviceMemoryPool (a caching allocator over the fake driver's
memory), dtype_to_ctype (pycuda's dtype registry: no float16), context helpers."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from . import driver as drv
from .driver import _Allocation, _Block

# ---------------------------------------------------------------------- dtypes
# pycuda's registry (compyte fill_registry_with_c_types, respect_windows=True, plus the
# complex types tools.py registers): float16 is absent, so pycuda's own kernels
# (GPUArray arithmetic, fill, astype) raise "unable to map dtype 'float16'".
_DTYPE_TO_NAME = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.int8): "signed char", np.dtype(np.uint8): "unsigned char",
    np.dtype(np.int16): "short", np.dtype(np.uint16): "unsigned short",
    np.dtype(np.int32): "int", np.dtype(np.uint32): "unsigned",
    np.dtype(np.int64): "long", np.dtype(np.uint64): "unsigned long",
    np.dtype(np.float32): "float", np.dtype(np.float64): "double",
    np.dtype(np.complex64): "pycuda::complex<float>",
    np.dtype(np.complex128): "pycuda::complex<double>",
}


def dtype_to_ctype(dtype: Any, with_fp_tex_hack: bool = False) -> str:
    if dtype is None:
        raise ValueError("dtype may not be None")
    dtype = np.dtype(dtype)
    if with_fp_tex_hack:
        tex = {np.dtype(np.float32): "fp_tex_float", np.dtype(np.float64): "fp_tex_double",
               np.dtype(np.complex64): "fp_tex_cfloat", np.dtype(np.complex128): "fp_tex_cdouble"}
        if dtype in tex:
            return tex[dtype]
    try:
        return _DTYPE_TO_NAME[dtype]
    except KeyError:
        raise ValueError(f"unable to map dtype '{dtype}'") from None


# ---------------------------------------------------------------------- memory pool
def _bin_number(size: int) -> int:
    """pycuda's bins: powers of two split in four (mantissa_bits = 2)."""
    size = max(int(size), 1)
    e = size.bit_length() - 1
    if e < 2:
        return size
    shifted = size >> (e - 2)
    m = shifted & 3
    bin_nr = (e << 2) | m
    if size > _alloc_size(bin_nr):
        bin_nr += 1
    return bin_nr


def _alloc_size(bin_nr: int) -> int:
    if bin_nr < 4:
        return max(bin_nr, 1)
    e, m = bin_nr >> 2, bin_nr & 3
    return ((4 | m) << e) >> 2


class PooledDeviceAllocation(_Allocation):
    def __init__(self, pool: DeviceMemoryPool, block: _Block, bin_nr: int) -> None:
        self._pool, self._block, self._bin = pool, block, bin_nr

    def free(self) -> None:
        b, self._block = self._block, None
        if b is not None:
            self._pool._give_back(b, self._bin)

    release = free

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:
            pass


class DeviceMemoryPool:
    """Keeps freed blocks (by size bin) for the next allocation, as pycuda's pool does;
    a block in the pool is not live memory: a kernel or copy that still uses it fails."""

    def __init__(self, allocator: Any = None) -> None:
        self._held: dict[int, list[_Block]] = {}
        self._lock = threading.Lock()
        self._holding = True
        self.active_blocks = 0
        self.managed_bytes = 0
        self.active_bytes = 0

    @property
    def held_blocks(self) -> int:
        return sum(len(v) for v in self._held.values())

    def bin_number(self, size: int) -> int:
        return _bin_number(size)

    def alloc_size(self, bin_nr: int) -> int:
        return _alloc_size(bin_nr)

    def allocate(self, size: int) -> PooledDeviceAllocation:
        size = int(size)
        if size < 0:
            raise OverflowError("can't convert negative value to unsigned int")
        bin_nr = _bin_number(size)
        with self._lock:
            held = self._held.get(bin_nr)
            block = held.pop() if held else None
        if block is None:
            drv._current("cuMemAlloc")
            block = _Block(_alloc_size(bin_nr))
            self.managed_bytes += block.capacity
        block.activate(size)  # bounds checks use the size asked for, not the bin's
        self.active_blocks += 1
        self.active_bytes += block.capacity
        return PooledDeviceAllocation(self, block, bin_nr)

    __call__ = allocate

    def _give_back(self, block: _Block, bin_nr: int) -> None:
        block.deactivate()
        self.active_blocks -= 1
        self.active_bytes -= block.capacity
        if self._holding:
            with self._lock:
                self._held.setdefault(bin_nr, []).append(block)
        else:
            self.managed_bytes -= block.capacity

    def free_held(self) -> None:
        with self._lock:
            for blocks in self._held.values():
                self.managed_bytes -= sum(b.capacity for b in blocks)
            self._held.clear()

    def stop_holding(self) -> None:
        self._holding = False
        self.free_held()


class PageLockedMemoryPool:
    def __init__(self, allocator: Any = None) -> None:
        pass

    def allocate(self, shape: Any, dtype: Any, order: str = "C") -> np.ndarray:
        return np.empty(shape, dtype, order=order)

    def free_held(self) -> None:
        pass

    def stop_holding(self) -> None:
        pass


# ---------------------------------------------------------------------- contexts
def get_default_device(default: int = 0) -> drv.Device:
    return drv.Device(default)


def make_default_context(ctx_maker: Any = None) -> drv.Context:
    if ctx_maker is None:
        def ctx_maker(dev: drv.Device) -> drv.Context:
            return dev.make_context()
    return ctx_maker(drv.Device(0))


def clear_context_caches() -> None:
    pass


class DeviceData:
    def __init__(self, dev: Any = None) -> None:
        self.max_threads = 1024
        self.warp_size = 32
        self.thread_blocks_per_mp = 32
        self.smem_granularity = 32
        self.shared_memory = 49152
        self.registers = 65536


__all__ = ["DeviceData", "DeviceMemoryPool", "PageLockedMemoryPool", "PooledDeviceAllocation",
           "clear_context_caches", "dtype_to_ctype", "get_default_device", "make_default_context"]
