"""CUDA runtime through pycuda (imported lazily: nothing here loads without a GPU).

- one context on device 0 (the primary context), made current on first use;
- a caching allocator (pycuda's DeviceMemoryPool), so a training loop does not call the
  driver's allocator every step;
- kernels compiled by nvcc to a cubin, cached on disk by a hash of source and options
  (beside the generated-source cache), and loaded with module_from_buffer;
- the generated Python launcher is loaded like the NumPy backend's modules.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._state import thread as _thread
from .loader import load_function

_STATE: dict[str, Any] = {}
_INIT_LOCK = threading.Lock()


class CudaUnavailable(RuntimeError):
    pass


def _pycuda() -> Any:
    try:
        import pycuda.driver as drv
    except ImportError as err:
        raise CudaUnavailable(
            "CUDA needs pycuda: pip install 'torchtrek[cuda]' on a machine with an NVIDIA "
            f"driver and the CUDA toolkit ({err})"
        ) from None
    return drv


def is_available() -> bool:
    try:
        device_count_checked = device_count()
    except Exception:
        return False
    return device_count_checked > 0


def device_count() -> int:
    try:
        drv = _pycuda()
        drv.init()
        return drv.Device.count()
    except Exception:
        return 0


def init() -> Any:
    """Make device 0's primary context current in this thread (a context is current per
    thread: each thread that touches the GPU pushes it once); returns the pycuda driver."""
    drv = _pycuda()
    if _thread.cuda_current:
        return drv
    with _INIT_LOCK:
        if "ctx" in _STATE:
            _STATE["ctx"].push()
        else:
            _first_init(drv)
    _thread.cuda_current = True
    return drv


def _first_init(drv: Any) -> None:
    """The process's first use: the context (pushed in this thread), pool, atexit hook."""
    drv.init()
    if drv.Device.count() == 0:
        raise CudaUnavailable("no CUDA device found")
    dev = drv.Device(0)
    ctx = dev.retain_primary_context()
    ctx.push()
    import atexit

    atexit.register(_shutdown)
    from pycuda.gpuarray import GPUArray
    from pycuda.tools import DeviceMemoryPool

    pool = DeviceMemoryPool()
    # (placeholder: the memory of alloc's templates and of every empty array)
    _STATE.update(ctx=ctx, dev=dev, pool=pool, arch="sm_%d%d" % dev.compute_capability(),
                  GPUArray=GPUArray, placeholder=pool.allocate(16))


def _shutdown() -> None:
    ctx = _STATE.pop("ctx", None)
    pool = _STATE.pop("pool", None)
    if pool is not None:
        pool.stop_holding()
    if ctx is not None:
        try:
            ctx.pop()
        except Exception:
            pass


_TEMPLATES: dict[tuple, Any] = {}  # (shape, dtype) -> an array's attributes, no memory


def alloc(shape: tuple[int, ...], dtype: str | np.dtype) -> Any:
    """A device array from the caching pool.

    GPUArray's constructor asks the driver for device attributes (its launch
    configuration) every time; a launcher allocates per kernel, so the attributes of the
    first array of each (shape, dtype) are kept and copied onto each new one, which then
    gets its own memory (an eager op: ~25 -> ~15 us)."""
    key = (shape, dtype)
    t = _TEMPLATES.get(key)
    if t is None:
        init()
        if len(_TEMPLATES) > 4096:
            _TEMPLATES.clear()
        # a template over the placeholder; pycuda leaves gpudata None for empty arrays,
        # but kernels still need a valid pointer
        t = _TEMPLATES[key] = _STATE["GPUArray"](tuple(shape), np.dtype(dtype),
                                                 gpudata=_STATE["placeholder"]).__dict__
    a = object.__new__(_STATE["GPUArray"])
    a.__dict__.update(t)
    if not _thread.cuda_current:  # this thread's first GPU memory
        init()
    if a.nbytes:
        a.gpudata = _STATE["pool"].allocate(a.nbytes)
    return a


def to_device(a: np.ndarray) -> Any:
    out = alloc(a.shape, a.dtype)
    if a.size:
        out.set(np.require(a, requirements="C"))  # keeps 0-d arrays 0-d
    return out


def to_host(a: Any) -> np.ndarray:
    if not _thread.cuda_current:  # an array made in another thread, read in this one
        init()
    return a.get() if a.size else np.empty(a.shape, a.dtype)


def synchronize() -> None:
    if "ctx" in _STATE:
        init()
        _pycuda().Context.synchronize()


def nvcc() -> str:
    path = shutil.which("nvcc") or (os.path.join(os.environ["CUDA_HOME"], "bin", "nvcc")
                                    if os.environ.get("CUDA_HOME") else None)
    if not path or not os.path.exists(path):
        raise CudaUnavailable("nvcc was not found on PATH (install the CUDA toolkit or set CUDA_HOME)")
    return path


NVCC_FLAGS = ("-O3", "-std=c++17", "--restrict", "-diag-suppress=177")


def compile_cubin(source: str, arch: str, cache_dir: Path | None = None) -> bytes:
    """nvcc -cubin, cached on disk by a hash of the source, the flags and the arch."""
    key = hashlib.sha256("\0".join((source, arch, *NVCC_FLAGS)).encode()).hexdigest()
    from . import disk_cache

    root = (cache_dir or disk_cache.cache_dir()) / "cubin"
    path = root / f"{key}.cubin"
    if path.exists():
        return path.read_bytes()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cu = Path(tmp) / "module.cu"
        cu.write_text(source)
        out = Path(tmp) / "module.cubin"
        proc = subprocess.run([nvcc(), "-cubin", f"-arch={arch}", *NVCC_FLAGS, "-o", str(out), str(cu)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nvcc failed on generated CUDA source:\n{proc.stderr}")
        data = out.read_bytes()
    fd, tmp_path = tempfile.mkstemp(dir=root, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp_path, path)
    return data


class _Launch:
    """A prepared kernel whose `prepared_call` does what pycuda's does minus its per-call
    legacy work: a deprecated cuFuncSetBlockShape driver call (cuLaunchKernel takes the
    block shape anyway), an import and keyword handling."""

    __slots__ = ("prepared_call",)

    def __init__(self, fn: Any) -> None:
        from pycuda._pvt_struct import pack

        launch, fmt = fn._launch_kernel, fn.arg_format

        def prepared_call(grid: tuple, block: tuple, *args: Any) -> None:
            launch(grid, block, pack(fmt, *args), 0, None)

        self.prepared_call = prepared_call


class _Kernels:
    """Attribute access to a module's kernels, each prepared with pointer arguments."""

    def __init__(self, module: Any, signatures: dict[str, int]) -> None:
        for name, n_args in signatures.items():
            fn = module.get_function(name)
            fn.prepare("P" * n_args)
            fast = hasattr(fn, "_launch_kernel") and not getattr(fn, "texrefs", None)
            setattr(self, name, _Launch(fn) if fast else fn)

    @staticmethod
    def philox(groups: int) -> tuple[int, int]:
        """(seed, offset) for a random kernel drawing `groups` Philox groups (the
        stream tt.manual_seed seeds: codegen/cuda/families/random.py)."""
        from ..codegen.cuda.families.random import next_philox

        return next_philox(groups)


@lru_cache(maxsize=None)
def load(cuda_source: str, launcher_source: str, fn_name: str,
         signature_items: tuple[tuple[str, int], ...]) -> Callable[..., tuple]:
    """Compile (or fetch) the kernels and return the launcher bound to them."""
    drv = init()
    if getattr(drv, "EMULATOR_TAKES_SOURCE", False):  # tests/cudaemu/fake_pycuda: no nvcc
        module = drv.module_from_buffer(cuda_source.encode())
    else:
        module = drv.module_from_buffer(compile_cubin(cuda_source, _STATE["arch"]))
    kernels = _Kernels(module, dict(signature_items))
    launcher = load_function(launcher_source, fn_name)

    def run(*arrays: Any) -> tuple:
        if not _thread.cuda_current:  # a thread that has not touched the GPU yet
            init()
        return launcher(kernels, alloc, *arrays)

    run.module = module  # keep the module alive with the function
    return run
