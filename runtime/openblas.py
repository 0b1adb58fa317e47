"""NumPy's OpenBLAS, as loaded in this process: its library (found among the loaded shared
objects, not loaded again), the symbols TorchTrek uses (the threading hook of
blas_threads.py, and cblas ?gemm for the C backend's batched matmul kernel, codegen/c/bmm.py),
and the small helpers the generated code calls with them. Elsewhere (NumPy on MKL,
Accelerate, a 32-bit-integer or OpenMP build) each lookup says None and the callers keep
NumPy's own paths."""

from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache
from typing import Any

import numpy as np

# NumPy's wheels ship OpenBLAS with its symbols renamed (scipy-openblas; 64-bit integers
# with the `64_` suffix); a plain OpenBLAS has the bare names
_PREFIXES = (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", ""))

CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS = 101, 111, 112


def _candidates() -> list[str]:
    """Paths of the shared objects this process has loaded that look like OpenBLAS."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split(maxsplit=5)
                path = fields[5].strip() if len(fields) == 6 else ""
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux: NumPy's wheel keeps it beside the package
        here = os.path.dirname(np.__file__)
        paths = sorted(glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*")))
        paths += sorted(glob.glob(os.path.join(here, ".dylibs", "*openblas*")))
    return paths


@lru_cache(maxsize=1)
def library() -> tuple[Any, str, str] | None:
    """(the library, its symbol prefix, its suffix) of the OpenBLAS NumPy uses, or None."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0))
        except OSError:
            continue
        for prefix, suffix in _PREFIXES:
            if hasattr(lib, f"{prefix}openblas_get_parallel{suffix}"):
                return lib, prefix, suffix
    return None


def function(name: str) -> Any:
    """OpenBLAS's `name` (openblas_get_parallel, cblas_sgemm, ...) as ctypes sees it, or None."""
    found = library()
    if found is None:
        return None
    lib, prefix, suffix = found
    return getattr(lib, f"{prefix}{name}{suffix}", None)


@lru_cache(maxsize=1)
def threading() -> int | None:
    """0 single-threaded build, 1 its own pthreads, 2 OpenMP; None without OpenBLAS."""
    f = function("openblas_get_parallel")
    if f is None:
        return None
    f.restype = ctypes.c_int
    return int(f())


@lru_cache(maxsize=1)
def gemm_table() -> np.ndarray | None:
    """The addresses of cblas_sgemm and cblas_dgemm (int64 array, handed to the batched
    matmul kernels), where OpenBLAS takes 64-bit integers (the kernels are printed for
    those); else None."""
    found = library()
    if found is None or found[2] != "64_":
        return None
    fs = [function("cblas_sgemm"), function("cblas_dgemm")]
    if any(f is None for f in fs):
        return None
    return np.array([ctypes.cast(f, ctypes.c_void_p).value for f in fs], dtype=np.int64)


def identity() -> str:
    """What generated code depending on this BLAS is keyed by (the disk cache)."""
    return "openblas-gemm64" if gemm_table() is not None else "no-gemm"


def gemm_operand(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(x or a contiguous copy, CBLAS transpose flag, leading dimension) for the matrices
    in x's last two dims, as cblas ?gemm reads them: row-major or column-major with a
    leading dimension no smaller than the row; batch strides in whole elements."""
    isz = x.itemsize
    s0, s1 = x.strides[-2:]
    r, c = x.shape[-2:]
    if all(t % isz == 0 for t in x.strides):
        if s1 == isz and (r == 1 or s0 >= isz * c):
            return x, CBLAS_NO_TRANS, s0 // isz if r > 1 else max(c, 1)
        if s0 == isz and (c == 1 or s1 >= isz * r):
            return x, CBLAS_TRANS, s1 // isz if c > 1 else max(r, 1)
    x = np.ascontiguousarray(x)
    return x, CBLAS_NO_TRANS, max(c, 1)


def gemm_strides(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, the batched matmul kernel's int64 argument: both operands' batch strides in
    elements, then a's transpose flag, lda, b's, ldb); a or b copied where cblas cannot
    read them in place."""
    a, ta, lda = gemm_operand(a)
    b, tb, ldb = gemm_operand(b)
    isz = a.itemsize
    return a, b, np.array([t // isz for t in a.strides[:-2]] + [t // isz for t in b.strides[:-2]]
                          + [ta, lda, tb, ldb], dtype=np.int64)
