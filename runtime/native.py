"""Builds and loads the C backend's kernels: the system C compiler, a shared object per
distinct source cached on disk, kernel_call's trampoline (or ctypes) to call it, and a pool
of output buffers.

The compiler is `$CC` or the first of cc, gcc, clang on PATH. Flags are probed once per
process: OpenMP and glibc's vector math library are used where they link. A shared
object is keyed by a hash of its source, the flags, the compiler's version and this CPU
(the code is built for `-march=native`), written to a temporary name and renamed.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np

from . import blas_threads, disk_cache, kernel_call, openblas
from .loader import load_source

# libgomp's idle threads spin for a while after each parallel region. Where NumPy's matmuls
# run on the same threads (blas_threads.py) they should: the next kernel or matmul finds them
# awake. Where OpenBLAS keeps its own pool, they would compete with its threads in the
# matmuls between kernels (an MLP step took 24 ms instead of 1.7): short spins. Unless the
# user chose otherwise; read when libgomp loads, so set before the first kernel library is.
os.environ.setdefault("GOMP_SPINCOUNT", "30000" if blas_threads.available() else "1000")

BASE_FLAGS = ["-O3", "-std=c11", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math"]
_PROBE = """
#include <math.h>
#pragma omp declare simd notinbranch
float expf(float);
void probe(const float* restrict x, float* restrict y, long long n) {
  #pragma omp parallel for simd
  for (long long i = 0; i < n; i++) y[i] = expf(x[i]);
}
"""


class CompileError(RuntimeError):
    """The C compiler rejected generated code (a TorchTrek bug: please report it)."""


@lru_cache(maxsize=1)
def compiler() -> str | None:
    """Path of the C compiler, or None."""
    env = os.environ.get("CC")
    for name in ([env] if env else []) + ["cc", "gcc", "clang"]:
        path = shutil.which(name)
        if path:
            return path
    return None


def available() -> bool:
    return compiler() is not None and flags() is not None


def _try(cc: str, flags: list[str], source: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="torchtrek-probe-") as d:
        src = Path(d) / "probe.c"
        src.write_text(source)
        r = subprocess.run([cc, *flags, str(src), "-o", str(Path(d) / "probe.so"), "-lm"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return False
        try:
            ctypes.CDLL(str(Path(d) / "probe.so"))  # links at load time too (libmvec, libgomp)
        except OSError:
            return False
        return True


@lru_cache(maxsize=1)
def flags() -> tuple[str, ...] | None:
    """The flags this machine's compiler accepts, best first; None if it builds nothing.
    Probing runs the compiler a few times, so the answer is kept in the disk cache (keyed
    by the compiler binary and this CPU)."""
    cc = compiler()
    if cc is None:
        return None
    key = None
    if disk_cache.enabled():
        real = os.path.realpath(cc)
        st = os.stat(real)
        key = disk_cache.make_key("cflags", real, str(st.st_mtime_ns), str(st.st_size),
                                  _cpu_id())
        hit = disk_cache.load(key)
        if hit is not None and isinstance(hit.get("flags"), list):
            return tuple(hit["flags"]) if hit["flags"] else None
    found = _probe_flags(cc)
    if key is not None:
        disk_cache.store(key, {"flags": list(found or ())})
    return found


def _probe_flags(cc: str) -> tuple[str, ...] | None:
    arch = ["-march=native"] if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64") else []
    if platform.machine() in ("x86_64", "AMD64"):
        # where the CPU has AVX-512, use all of it: gcc prefers 256-bit vectors by default,
        # and the 16-lane vector math (tanhf, expf) doubles the throughput of a gelu
        arch.append("-mprefer-vector-width=512")
    for extra in (["-fopenmp", "-DTT_VECTOR_MATH"], ["-fopenmp"], []):
        for a in (arch, arch[:1], []):
            f = BASE_FLAGS + a + extra
            probe = _PROBE if "-DTT_VECTOR_MATH" in extra else _PROBE.replace(
                "#pragma omp declare simd notinbranch\nfloat expf(float);\n", "")
            if _try(cc, f, probe):
                return tuple(f)
    return None


@lru_cache(maxsize=1)
def _cpu_id() -> str:
    cpu = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu += "".join(ln for ln in f if ln.startswith(("model name", "flags")))[:4096]
    except OSError:
        pass
    return hashlib.sha256(cpu.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _machine_id() -> str:
    """What `-march=native` code depends on: the compiler (binary) and this CPU."""
    cc = os.path.realpath(compiler() or "")
    try:
        st = os.stat(cc)
        binary = f"{cc}:{st.st_mtime_ns}:{st.st_size}"
    except OSError:
        binary = cc
    return hashlib.sha256((binary + _cpu_id()).encode()).hexdigest()[:16]


def _so_path(source: str) -> Path:
    key = hashlib.sha256("\0".join([source, " ".join(flags() or ()), _machine_id()]).encode())
    return disk_cache.cache_dir() / "native" / f"{key.hexdigest()[:32]}.so"


def build(source: str) -> Path:
    """The shared object for `source`, compiled unless already on disk."""
    path = _so_path(source)
    if path.exists():
        return path
    cc, fl = compiler(), flags()
    if cc is None or fl is None:
        raise CompileError("no working C compiler (set CC, or install gcc or clang)")
    compile_shared(cc, list(fl), source, path, ["-lm"])
    return path


def compile_shared(cc: str, flags: list[str], source: str, path: Path,
                   libs: Sequence[str] = ()) -> None:
    """`source` built into the shared object `path`: written to a temporary name in its
    directory and renamed, so a reader (another process) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".so")
    os.close(fd)
    src = tmp[:-3] + ".c"
    try:
        Path(src).write_text(source)
        r = subprocess.run([cc, *flags, src, "-o", tmp, *libs], capture_output=True, text=True)
        if r.returncode != 0:
            raise CompileError(f"{cc} failed on generated code:\n{r.stderr[-4000:]}")
        os.replace(tmp, path)
    finally:
        for p in (tmp, src):
            if os.path.exists(p):
                os.unlink(p)


class OutputPool:
    """Two buffers per kernel output: one is handed out again when only the pool still
    holds it (its reference count says so), so a loop over a compiled function does not
    page-fault a fresh output every call, and a result the caller keeps is never
    overwritten. Two, because `y = f(x)` in a loop keeps the previous result alive while
    the next is computed; the one before that is free by then."""

    __slots__ = ("bufs",)

    def __init__(self, n: int) -> None:
        self.bufs: list[np.ndarray | None] = [None] * (2 * n)

    def __call__(self, slot: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        bufs = self.bufs
        i = 2 * slot
        for j in (i, i + 1):
            b = bufs[j]
            # references: the list, `b`, getrefcount's argument
            if b is not None and sys.getrefcount(b) == 3:
                return b
            del b
        # both busy (or not made yet): a new buffer replaces the older one
        bufs[i + 1] = bufs[i]
        b = bufs[i] = np.empty(shape, dtype)
        return b


_LIBS: dict[str, ctypes.CDLL] = {}


def load(py_source: str, c_source: str, fn_name: str, kernels: Sequence[tuple[str, int]],
         n_slots: int) -> Callable[..., tuple]:
    """The generated function, its kernels compiled, bound and given their pool."""
    # one namespace per distinct source: the same graph shares its kernels and its pool
    # (sharing is safe: a buffer is only reused when nothing else references it)
    # (the Python side alone does not tell two graphs apart: the kernels' bodies do)
    tag = f"\n# kernels.c {hashlib.sha256(c_source.encode()).hexdigest()[:16]}\n" if kernels else ""
    ns = load_source(py_source + tag, fn_name)
    if kernels and "_k" not in ns:
        blas_threads.install()
        path = str(build(c_source))
        lib = _LIBS.get(path)
        if lib is None:
            lib = _LIBS[path] = ctypes.CDLL(path)
        at = kernel_call.addresses(lib, [n for n, _ in kernels])
        ns["_k"] = SimpleNamespace(**at)
        ns["_call"] = kernel_call.caller(lib, kernels, at)
        if _CALLS_GEMM.search(py_source):  # batched matmul kernels (codegen/c/bmm.py)
            table = openblas.gemm_table()
            if table is None:
                raise CompileError("generated code calls OpenBLAS's cblas_?gemm, which this "
                                   "process's NumPy does not have (a stale disk cache? "
                                   "`torchtrek cache clear`)")
            ns["_blas"], ns["_gemm_strides"] = table, openblas.gemm_strides
    ns.setdefault("_out", OutputPool(n_slots))
    return ns[fn_name]


# a statement (not a comment quoting the user's source) of a batched matmul's wrapper
_CALLS_GEMM = re.compile(r"^ +[^#\s].*\b_gemm_strides\(", re.M)
