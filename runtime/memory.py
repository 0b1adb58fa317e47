"""The process's allocator, set once when TorchTrek loads: glibc's malloc keeps the large
blocks it frees, for the next call to reuse.

A training step allocates and frees the same large arrays at every call (NumPy's matmul
outputs and temporaries). glibc serves a block over its mmap threshold (128 KiB at first,
raised as blocks are freed) with a fresh mmap and unmaps it at free, and trims the heap's
top back to the OS: the next call page-faults all of it in again. A 4-layer GPT step took
600-800 page faults per call, 5 ms of 30 on this 2-core VM (a fault costs several µs under
virtualization). Fixed thresholds keep those blocks in the heap: the footprint stays at the
step's peak, as a caching allocator's does (PyTorch's docs suggest jemalloc or tcmalloc to
the same end). `TORCHTREK_MALLOC=default` leaves malloc as it is.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # blocks up to this size come from the heap (glibc's maximum)
TRIM_THRESHOLD = 256 << 20  # free memory the heap's top keeps before returning it

_done: bool | None = None


def keep_freed_blocks() -> bool:
    """Set glibc's thresholds (once per process); whether they are set."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("TORCHTREK_MALLOC", "") == "default" or platform.system() != "Linux" \
            or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
