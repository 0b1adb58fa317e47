"""Runs TorchTrek's generated CUDA modules on the CPU, so tests without a GPU check the
values the kernels compute (not only that nvcc accepts them).

How: the module's `.cu` text is compiled as C++ by g++ after `cuda_shim.h` (which maps
`__global__`, `__shared__`, blockIdx/threadIdx, math intrinsics, atomics, warp shuffles
and __syncthreads onto plain C++), plus one `tt_launch_<kernel>` wrapper per kernel. The
.so is cached by a hash of the source (in a temp dir) and loaded with ctypes. The
module's Python launcher then runs unchanged with a fake `alloc` (NumPy-backed arrays
with `.gpudata` = their address) and a fake `K` whose `prepared_call(grid, block, *args)`
calls the wrapper.

Execution: blocks one after another. A kernel whose text has no barrier or warp
operation runs each thread straight through, one after another; one that has them runs
the threads of a block as fibers (ucontext), switching at every __syncthreads / shuffle,
so block reductions and the shared-memory matmul behave as on the GPU. Races between
threads are not detected as such (execution is serial and deterministic); `check` runs
each module a second time with blocks and threads in reverse order, which catches results
that depend on the order threads run in. Atomics are plain read-modify-writes.
Fresh allocations are filled with a poison value (a NaN with a recognizable payload for
floats, 0xAB bytes otherwise) so that outputs a kernel forgot to write stand out:
`unwritten(a)` tells which elements still hold it.

From another test file (pytest runs with --import-mode=importlib):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cudaemu"))
    import emulator
    emulator.check(lambda x, i: x[i], x, idx, backward=True)   # raises AssertionError

API:
    run_module(module, *arrays, order="forward") -> tuple of np.ndarray   # a CudaModule
    emulate(fn, *tensors, backward=False) -> Emulated      # .outputs (emulated), .reference
                                                           # (NumPy backend), .module
    check(fn, *tensors, backward=False, rtol=1e-4, atol=1e-5)   # asserts they match, in
                                                           # both thread orders
    unwritten(array) -> mask of elements still holding the poison (never written)
    available() -> bool                                    # g++ present?

__trap() stops the launch with EmulationError; so do deadlocked barriers (divergent
__syncthreads) and invalid grids/blocks. `K.philox(groups)` (random kernels) is
runtime/cuda.py's: codegen/cuda/families/random.py's next_philox.

Kernel arguments: pointers (`.gpudata`) and value arguments (Python ints, passed as
64-bit values; floats as their bit pattern) in the kernel's parameter order; the
wrapper reads each parameter's C type from the kernel's signature.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SHIM = Path(__file__).with_name("cuda_shim.h")
CXX_FLAGS = ("-O1", "-std=c++17", "-fPIC", "-shared", "-fno-strict-aliasing", "-w",
             "-fno-fast-math", "-ffp-contract=off")
# Anything in a kernel that makes threads of a block wait for each other.
SYNC_WORDS = ("__syncthreads", "__syncwarp", "__shfl", "__ballot_sync", "__any_sync",
              "__all_sync", "tt_block_reduce")

_LOCK = threading.Lock()
# Order blocks and threads run in: "forward", or "reverse" (a kernel whose result depends
# on it reads what other threads write: a race on the GPU). `check` runs both.
ORDER = {"order": "forward"}
_LIBS: dict[str, _Library] = {}


class EmulationError(RuntimeError):
    pass


def available() -> bool:
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def cache_dir() -> Path:
    d = Path(os.environ.get("TORCHTREK_CUDAEMU_CACHE",
                            Path(tempfile.gettempdir()) / f"torchtrek-cudaemu-{os.getuid()}"))
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---------------------------------------------------------------------- arrays
_POISON = {
    np.dtype("float32"): np.array([0x7FDEAD00], np.uint32).view(np.float32)[0],
    np.dtype("float64"): np.array([0x7FFDEAD0DEAD0000], np.uint64).view(np.float64)[0],
}


class EmuArray:
    """What the launchers see of a device array: NumPy memory, 256-byte aligned."""

    def __init__(self, a: np.ndarray, owner: Any = None) -> None:
        self.a = a
        self._owner = owner  # keeps the backing buffer alive

    @classmethod
    def empty(cls, shape: Sequence[int], dtype: Any, poison: bool = True) -> EmuArray:
        dt = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape, dtype=np.int64))
        nbytes = max(n * dt.itemsize, 16)
        raw = np.empty(nbytes + 256, np.uint8)
        off = (-raw.ctypes.data) % 256
        buf = raw[off:off + nbytes]
        if poison:
            buf[:] = 0xAB
        a = buf[: n * dt.itemsize].view(dt).reshape(shape)
        if poison and dt in _POISON:
            a[...] = _POISON[dt]
        return cls(a, raw)

    @classmethod
    def from_numpy(cls, x: Any) -> EmuArray:
        x = np.asarray(x)
        out = cls.empty(x.shape, x.dtype, poison=False)
        out.a[...] = x
        return out

    @property
    def gpudata(self) -> int:
        return self.a.ctypes.data

    @property
    def ptr(self) -> int:
        return self.gpudata

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    size = property(lambda self: self.a.size)
    nbytes = property(lambda self: self.a.nbytes)
    ndim = property(lambda self: self.a.ndim)

    def reshape(self, *shape: Any) -> EmuArray:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        v = self.a.reshape(shape)
        if v.size and not np.shares_memory(v, self.a):  # pragma: no cover - contiguous always
            raise EmulationError("reshape copied")
        return EmuArray(v, self._owner)

    def view(self, dtype: Any = None) -> EmuArray:
        return EmuArray(self.a if dtype is None else self.a.view(dtype), self._owner)

    def get(self) -> np.ndarray:
        return self.a.copy()

    def set(self, x: Any) -> None:
        self.a[...] = x

    def fill(self, value: Any) -> EmuArray:
        self.a.fill(value)
        return self

    def __len__(self) -> int:
        return len(self.a)

    def __repr__(self) -> str:
        return f"EmuArray({self.a!r})"


def alloc(shape: Sequence[int], dtype: Any) -> EmuArray:
    """Fresh device memory for the launchers, poisoned."""
    return EmuArray.empty(shape, dtype)


def unwritten(a: np.ndarray) -> np.ndarray:
    """Mask of the elements of an emulated output that still hold the poison pattern."""
    a = np.asarray(a)
    if a.dtype in _POISON:
        bits = a.view(np.uint32 if a.dtype == np.float32 else np.uint64)
        p = _POISON[a.dtype].view(np.uint32 if a.dtype == np.float32 else np.uint64)
        return bits == p
    if a.dtype.itemsize == 1 and a.dtype != np.bool_:
        return np.zeros(a.shape, bool)  # a byte of 0xAB is an ordinary value
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(a.shape + (a.dtype.itemsize,))
    return np.all(raw == 0xAB, axis=-1)


# ---------------------------------------------------------------------- compilation
_KERNEL_RE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(')


def kernel_names(cuda_source: str) -> list[str]:
    return _KERNEL_RE.findall(cuda_source)


def _kernel_texts(cuda_source: str) -> dict[str, str]:
    """Each kernel's text (from its signature to the next kernel): for the sync scan."""
    ms = list(_KERNEL_RE.finditer(cuda_source))
    out = {}
    for j, m in enumerate(ms):
        end = ms[j + 1].start() if j + 1 < len(ms) else len(cuda_source)
        out[m.group(1)] = cuda_source[m.start():end]
    return out


def _helpers_that_sync(cuda_source: str) -> set[str]:
    """Device helpers (outside kernels) whose bodies synchronize: calling one makes a
    kernel need fibers. A coarse scan: function names defined before the first kernel."""
    first = _KERNEL_RE.search(cuda_source)
    head = cuda_source[: first.start()] if first else cuda_source
    found = set()
    for m in re.finditer(r"(\w+)\s*\([^;{}]*\)\s*\{", head):
        name = m.group(1)
        if name in ("if", "for", "while", "switch"):
            continue
        # the body: up to the matching brace
        depth, i = 0, m.end() - 1
        while i < len(head):
            c = head[i]
            depth += c == "{"
            depth -= c == "}"
            i += 1
            if depth == 0:
                break
        if any(w in head[m.end():i] for w in SYNC_WORDS):
            found.add(name)
    return found


# C parameter types of the generated kernels -> (kind, size in bytes): what the CUDA
# parameter buffer holds (each parameter aligned to its size).
_PARAM_TYPES = {
    "float": ("f", 4), "double": ("d", 8), "__half": ("i", 2), "half": ("i", 2),
    "bool": ("i", 1), "char": ("i", 1), "signed char": ("i", 1), "unsigned char": ("i", 1),
    "int8_t": ("i", 1), "uint8_t": ("i", 1), "short": ("i", 2), "unsigned short": ("i", 2),
    "int16_t": ("i", 2), "uint16_t": ("i", 2), "int": ("i", 4), "unsigned": ("i", 4),
    "unsigned int": ("i", 4), "int32_t": ("i", 4), "uint32_t": ("i", 4), "long": ("i", 8),
    "unsigned long": ("i", 8), "long long": ("i", 8), "unsigned long long": ("i", 8),
    "int64_t": ("i", 8), "uint64_t": ("i", 8), "size_t": ("i", 8), "ptrdiff_t": ("i", 8),
    "long long int": ("i", 8), "unsigned long long int": ("i", 8),
}


def kernel_params(cuda_source: str) -> dict[str, list[tuple[str, int] | None]]:
    """Each kernel's parameters as (kind, size): kind P (pointer, 8 bytes), f, d or i;
    None for a parameter whose C type is not in the table (a struct, say)."""
    out: dict[str, list[tuple[str, int] | None]] = {}
    for m in _KERNEL_RE.finditer(cuda_source):
        depth, i, start = 1, m.end(), m.end()
        while i < len(cuda_source) and depth:
            depth += cuda_source[i] == "("
            depth -= cuda_source[i] == ")"
            i += 1
        text = cuda_source[start:i - 1]
        params: list[tuple[str, int] | None] = []
        for p in (t.strip() for t in text.split(",")):
            if not p or p == "void":
                continue
            if "*" in p or "&" in p:
                params.append(("P", 8))
                continue
            words = [w for w in re.findall(r"\w+", p)
                     if w not in ("const", "volatile", "__restrict__", "restrict", "signed")
                     or (w == "signed" and "char" in p)]
            words = words[:-1] if len(words) > 1 else words  # drop the parameter's name
            params.append(_PARAM_TYPES.get(" ".join(words)))
        out[m.group(1)] = params
    return out


def needs_fibers(kernel_text: str, sync_helpers: set[str] = frozenset()) -> bool:
    return any(w in kernel_text for w in SYNC_WORDS) or any(
        re.search(rf"\b{re.escape(h)}\b", kernel_text) for h in sync_helpers)


class _Library:
    def __init__(self, cuda_source: str) -> None:
        names = kernel_names(cuda_source)
        texts = _kernel_texts(cuda_source)
        helpers = _helpers_that_sync(cuda_source)
        self.fibers = {n: needs_fibers(texts[n], helpers) for n in names}
        wrappers = ["", "// ---- emulator entry points"]
        for n in names:
            wrappers.append(
                f'extern "C" int tt_launch_{n}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
                f"unsigned by, unsigned bz, int fibers, const uint64_t* a) {{\n"
                f"  return tt_emu_launch_fn({n}, gx, gy, gz, bx, by, bz, fibers, a);\n}}\n"
                f'extern "C" const char* tt_sig_{n}() {{ return tt_emu_signature({n}); }}')
        # the shim defines __half itself (as _Float16): the toolkit's header is not here
        source = cuda_source.replace("#include <cuda_fp16.h>", "")
        text = f'#include "{SHIM}"\n#line 1 "module.cu"\n' + source + "\n".join(wrappers) + "\n"
        shim_text = SHIM.read_text()
        key = hashlib.sha256("\0".join((text, shim_text, *CXX_FLAGS)).encode()).hexdigest()[:24]
        so = cache_dir() / f"{key}.so"
        if not so.exists():
            _compile(text, so)
        self.lib = ctypes.CDLL(str(so))
        self.lib.tt_emu_message.restype = ctypes.c_char_p
        self.kernels: dict[str, tuple[Any, str]] = {}
        for n in names:
            fn = getattr(self.lib, f"tt_launch_{n}")
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_uint] * 6 + [ctypes.c_int, ctypes.POINTER(ctypes.c_uint64)]
            sig_fn = getattr(self.lib, f"tt_sig_{n}")
            sig_fn.restype = ctypes.c_char_p
            self.kernels[n] = (fn, sig_fn().decode())

    def signature(self, name: str) -> str:
        """One letter per parameter: P pointer, f float, d double, i integer."""
        return self.kernels[name][1]

    def launch(self, name: str, grid: Sequence[int], block: Sequence[int], args: Sequence[Any]) -> None:
        sig = self.kernels[name][1]
        if len(args) != len(sig):
            raise EmulationError(f"{name}: {len(args)} argument(s) for a kernel taking {len(sig)} ({sig})")
        self.launch_words(name, grid, block, [_encode(name, j, a, kind) for j, (a, kind) in enumerate(zip(args, sig))])

    def launch_words(self, name: str, grid: Sequence[int], block: Sequence[int], values: Sequence[int]) -> None:
        """Runs kernel `name` with its arguments already as 64-bit words (what the shim's
        tt_emu_arg decodes: addresses, integer values, float bit patterns in the low 32
        bits): for callers that decode a packed argument buffer themselves (fake_pycuda)."""
        fn, sig = self.kernels[name]
        if len(values) != len(sig):
            raise EmulationError(f"{name}: {len(values)} argument(s) for a kernel taking {len(sig)} ({sig})")
        words = (ctypes.c_uint64 * max(1, len(values)))()
        for j, v in enumerate(values):
            words[j] = int(v) & (2**64 - 1)
        grid = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
        block = tuple(int(b) for b in block) + (1,) * (3 - len(block))
        if any(g <= 0 for g in grid) or grid[1] > 65535 or grid[2] > 65535 or grid[0] > 2**31 - 1:
            raise EmulationError(f"{name}: invalid grid {grid}")
        if any(b <= 0 for b in block) or block[0] * block[1] * block[2] > 1024 or block[2] > 64:
            raise EmulationError(f"{name}: invalid block {block}")
        with _LOCK:  # the shim's scheduler state is global
            flags = int(self.fibers[name]) | (2 if ORDER["order"] == "reverse" else 0)
            rc = fn(*grid, *block, flags, words)
            msg = self.lib.tt_emu_message().decode()
        if rc:
            raise EmulationError(f"{name}: {msg or 'failed'} (rc {rc})")


def _encode(name: str, j: int, a: Any, kind: str) -> int:
    if kind == "P":
        if isinstance(a, EmuArray):
            return a.gpudata
        if isinstance(a, (int, np.integer)):
            return int(a)
        raise EmulationError(f"{name}: argument {j} should be a pointer (.gpudata), got {type(a).__name__}")
    if isinstance(a, EmuArray):
        raise EmulationError(f"{name}: argument {j} is a value parameter ({kind}), got an array")
    if kind == "f":
        return int(np.array([a], np.float32).view(np.uint32)[0])
    if kind == "d":
        return int(np.array([a], np.float64).view(np.uint64)[0])
    if kind == "i":
        if isinstance(a, (float, np.floating)):
            raise EmulationError(f"{name}: argument {j} is an integer parameter, got {a!r}")
        return int(a) & (2**64 - 1)
    raise EmulationError(f"{name}: argument {j} has a parameter type the emulator cannot pass")


def _compile(text: str, so: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "module.cpp"
        src.write_text(text)
        out = Path(tmp) / "module.so"
        proc = subprocess.run([os.environ.get("CXX", "g++"), *CXX_FLAGS, "-o", str(out), str(src)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise EmulationError(f"g++ failed on the generated CUDA source:\n{proc.stderr[-6000:]}")
        fd, tmp_so = tempfile.mkstemp(dir=so.parent, suffix=".so.tmp")
        os.close(fd)
        shutil.copyfile(out, tmp_so)
        os.replace(tmp_so, so)


def library(cuda_source: str) -> _Library:
    lib = _LIBS.get(cuda_source)
    if lib is None:
        lib = _LIBS[cuda_source] = _Library(cuda_source)
    return lib


class _EmuKernel:
    def __init__(self, lib: _Library, name: str) -> None:
        self.lib, self.name = lib, name

    def prepare(self, *_: Any) -> _EmuKernel:
        return self

    def prepared_call(self, grid: Sequence[int], block: Sequence[int], *args: Any) -> None:
        self.lib.launch(self.name, grid, block, args)

    def __call__(self, *args: Any, grid: Sequence[int] = (1, 1, 1), block: Sequence[int] = (1, 1, 1),
                 **_: Any) -> None:
        self.lib.launch(self.name, grid, block, args)


class _EmuKernels:
    """The launchers' `K`: one attribute per kernel, plus the host helpers runtime/cuda.py's
    _Kernels has (philox: the random kernels' (seed, offset))."""

    def __init__(self, lib: _Library) -> None:
        for n in lib.kernels:
            setattr(self, n, _EmuKernel(lib, n))

    @staticmethod
    def philox(groups: int) -> tuple[int, int]:
        from torchtrek.codegen.cuda.families.random import next_philox

        return next_philox(groups)

    def __getattr__(self, name: str) -> Any:
        raise EmulationError(f"the launcher asks K for {name!r}: no such kernel in the module, and "
                             "no such host helper in the emulator (runtime/cuda.py's _Kernels may "
                             "have one: mirror it in tests/cudaemu/emulator.py)")


def load(module: Any):
    """The module's launcher bound to emulated kernels: fn(*EmuArrays) -> tuple of EmuArrays."""
    from torchtrek.runtime.loader import load_function

    lib = library(module.cuda_source)
    K = _EmuKernels(lib)
    launcher = load_function(module.launcher_source, module.fn_name)

    def run(*arrays: Any) -> tuple:
        return launcher(K, alloc, *arrays)

    return run


def run_module(module: Any, *arrays: Any, order: str = "forward") -> tuple[np.ndarray, ...]:
    """Runs a CudaModule's launcher on NumPy inputs; returns NumPy copies of its outputs.
    order="reverse" runs blocks and threads last to first."""
    if order not in ("forward", "reverse"):
        raise ValueError(f"order must be 'forward' or 'reverse', not {order!r}")
    run = load(module)
    inputs = [a if isinstance(a, EmuArray) else EmuArray.from_numpy(a) for a in arrays]
    before = [a.get() for a in inputs]
    prev, ORDER["order"] = ORDER["order"], order
    try:
        outs = run(*inputs)
    finally:
        ORDER["order"] = prev
    for j, (a, b) in enumerate(zip(inputs, before)):
        if not np.array_equal(a.a, b, equal_nan=b.dtype.kind == "f"):
            raise EmulationError(f"{module.fn_name}: the kernels wrote into input {j}")
    return tuple(o.get() if isinstance(o, EmuArray) else np.asarray(o) for o in outs)


# ---------------------------------------------------------------------- from a function
@dataclass
class Emulated:
    outputs: list[np.ndarray]      # emulated CUDA
    reference: list[np.ndarray]    # NumPy backend, same graph
    inputs: list[np.ndarray]       # what both were given
    module: Any                    # the CudaModule
    graph: Any                     # the IR graph it was generated from

    def assert_close(self, rtol: float = 1e-4, atol: float = 1e-5) -> None:
        assert_matches(self, rtol=rtol, atol=atol)


def _as_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach") and hasattr(t, "numpy"):
        return np.asarray(t.detach().numpy())
    return np.asarray(t)


def emulate(fn: Any, *tensors: Any, backward: bool = False, seed: int = 0,
            cts: Sequence[Any] | None = None, order: str = "forward") -> Emulated:
    """Compiles `fn` (tt.compile) for `tensors`, generates CUDA for its forward graph (or
    its backward graph, fed with the forward's residuals and cotangents drawn from
    `seed`, or `cts`), runs it emulated, and the NumPy backend on the same graph."""
    from torchtrek.codegen.cuda.generator import generate

    import torchtrek as tt

    args = tuple(t if isinstance(t, tt.Tensor) else tt.tensor(np.asarray(t)) for t in tensors)
    entry = tt.compile(fn, backend="numpy")._entry_for(args, {}, backward)
    cg = entry.compiled
    if cg.backend != "numpy":
        raise EmulationError(f"expected the NumPy backend for the reference, got {cg.backend!r}")
    # the graph's inputs: the tensor arguments, then tensors the function captured
    arrays = [_as_numpy(a) for a in [args[i] for i in entry.tensor_pos] + entry.captured()]
    graph = cg.forward_graph
    if len(graph.inputs) != len(arrays):
        raise EmulationError(f"the graph takes {len(graph.inputs)} inputs, {len(arrays)} found")
    with np.errstate(all="ignore"):
        ref = list(cg.forward_fn(*arrays))
    if backward:
        if not cg.has_backward:
            raise EmulationError("no backward graph for this function and inputs")
        bgraph = cg.backward_graph
        n_res = len(ref) - cg.n_outputs
        residuals = ref[cg.n_outputs:]
        if cg._size_args:
            raise EmulationError("shape-generic backward (size arguments) is not supported")
        ct_types = [v.type for v in bgraph.inputs[n_res:]]
        if cts is None:
            rng = np.random.default_rng(seed)
            cts = []
            for t in ct_types:
                dt = np.dtype(t.dtype.name)
                if dt.kind == "f":
                    cts.append(rng.standard_normal(t.shape).astype(dt))
                else:
                    cts.append(np.zeros(t.shape, dt))
        cts = [_as_numpy(c) for c in cts]
        b_in = [np.asarray(r) for r in residuals] + cts
        b_in = [np.require(a, np.dtype(v.dtype.name), "C") for a, v in zip(b_in, bgraph.inputs)]
        with np.errstate(all="ignore"):
            ref = list(cg.backward_fn()(*b_in))
        graph, arrays = bgraph, b_in
    else:
        arrays = [np.require(a, np.dtype(v.dtype.name), "C") for a, v in zip(arrays, graph.inputs)]
    module = generate(graph)
    outs = list(run_module(module, *arrays, order=order))
    ref = [np.asarray(r) for r in ref]
    return Emulated(outs, ref, arrays, module, graph)


def assert_matches(em: Emulated, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Every output: same shape and dtype, written everywhere, close to the reference."""
    if len(em.outputs) != len(em.reference):
        raise AssertionError(f"{len(em.outputs)} outputs emulated, {len(em.reference)} in the reference")
    for j, (o, r, v) in enumerate(zip(em.outputs, em.reference, em.graph.outputs)):
        name = f"output {j} ({v.type if hasattr(v, 'type') else v})"
        if o.shape != r.shape:
            raise AssertionError(f"{name}: shape {o.shape}, reference {r.shape}")
        bad = unwritten(o)
        if bad.any():
            raise AssertionError(f"{name}: {int(bad.sum())} of {o.size} elements never written, "
                                 f"first at {np.argwhere(bad)[0].tolist()}\n{em.module.cuda_source[-3000:]}")
        if o.dtype.kind in "fc" or r.dtype.kind in "fc":
            np.testing.assert_allclose(o.astype(np.float64), r.astype(np.float64), rtol=rtol,
                                       atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(o, r.astype(o.dtype), err_msg=name)


def check(fn: Any, *tensors: Any, backward: bool = False, rtol: float = 1e-4, atol: float = 1e-5,
          both_orders: bool = True, **kw: Any) -> Emulated:
    """emulate() and assert_matches(); then (both_orders) the same module once more with
    blocks and threads in reverse order, which must give the same values (to rounding:
    float atomics add in another order)."""
    em = emulate(fn, *tensors, backward=backward, **kw)
    assert_matches(em, rtol=rtol, atol=atol)
    if both_orders:
        rev = run_module(em.module, *em.inputs, order="reverse")
        for j, (a, b) in enumerate(zip(rev, em.outputs)):
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6,
                                           err_msg=f"output {j} depends on the order threads run in")
            else:
                np.testing.assert_array_equal(a, b, err_msg=f"output {j} depends on the order threads run in")
    return em


__all__ = [
    "EmuArray",
    "Emulated",
    "EmulationError",
    "alloc",
    "assert_matches",
    "available",
    "check",
    "emulate",
    "kernel_params",
    "load",
    "run_module",
    "unwritten",
]
