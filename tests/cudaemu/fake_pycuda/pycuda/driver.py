"""Fake pycuda.driver: contexts, NumPy-backed device memory, and modules whose kernels run
in tests/cudaemu/emulator.py. See the package docstring."""

from __future__ import annotations

import bisect
import builtins
import importlib.util
import os
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

# runtime/cuda.py's load() hands module_from_buffer the CUDA source (bytes) instead of a
# cubin from nvcc when the driver module says so.
EMULATOR_TAKES_SOURCE = True
EMULATED = True

_EMU_DIR = Path(__file__).resolve().parents[2]  # tests/cudaemu


def _emulator() -> Any:
    """tests/cudaemu/emulator.py, shared with the tests that import it as `emulator`."""
    mod = sys.modules.get("emulator")
    if mod is not None and Path(getattr(mod, "__file__", "")).resolve() == _EMU_DIR / "emulator.py":
        return mod
    spec = importlib.util.spec_from_file_location("emulator", _EMU_DIR / "emulator.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("emulator", mod)
    spec.loader.exec_module(mod)
    return sys.modules["emulator"] if sys.modules["emulator"].__dict__.get("library") else mod


# ---------------------------------------------------------------------- errors
class Error(Exception):
    pass


class LogicError(Error):
    pass


class LaunchError(Error):
    pass


class MemoryError(Error):
    pass


class RuntimeError(Error):
    pass


class CompileError(Error):
    def __init__(self, msg: str, command_line: Any = None, stdout: Any = None, stderr: Any = None) -> None:
        super().__init__(msg)
        self.msg, self.command_line, self.stdout, self.stderr = msg, command_line, stdout, stderr


class ArgumentError(TypeError):
    """Boost.Python's ArgumentError (a TypeError): a wrapped function got an argument of a
    type it has no conversion for (None for a device pointer, say)."""


def _signature_error(fn: str, args: tuple) -> ArgumentError:
    types = ", ".join(type(a).__name__ for a in args)
    return ArgumentError(f"Python argument types in\n    pycuda._driver.{fn}({types})\n"
                         "did not match C++ signature")


# ---------------------------------------------------------------------- init, devices
_INIT = {"done": False}


def init(flags: int = 0) -> None:
    _INIT["done"] = True


def get_version() -> tuple[int, int, int]:
    return (12, 4, 0)


def get_driver_version() -> int:
    return 12040


def _check_init(fn: str) -> None:
    if not _INIT["done"]:
        raise LogicError(f"{fn} failed: initialization error (call pycuda.driver.init() first)")


class device_attribute:
    MAX_THREADS_PER_BLOCK = 1
    MAX_BLOCK_DIM_X = 2
    MAX_BLOCK_DIM_Y = 3
    MAX_BLOCK_DIM_Z = 4
    MAX_GRID_DIM_X = 5
    MAX_GRID_DIM_Y = 6
    MAX_GRID_DIM_Z = 7
    MAX_SHARED_MEMORY_PER_BLOCK = 8
    TOTAL_CONSTANT_MEMORY = 9
    WARP_SIZE = 10
    MAX_REGISTERS_PER_BLOCK = 12
    CLOCK_RATE = 13
    MULTIPROCESSOR_COUNT = 16
    COMPUTE_CAPABILITY_MAJOR = 75
    COMPUTE_CAPABILITY_MINOR = 76
    MAX_THREADS_PER_MULTIPROCESSOR = 39


_ATTRIBUTES = {
    device_attribute.MAX_THREADS_PER_BLOCK: 1024, device_attribute.MAX_BLOCK_DIM_X: 1024,
    device_attribute.MAX_BLOCK_DIM_Y: 1024, device_attribute.MAX_BLOCK_DIM_Z: 64,
    device_attribute.MAX_GRID_DIM_X: 2**31 - 1, device_attribute.MAX_GRID_DIM_Y: 65535,
    device_attribute.MAX_GRID_DIM_Z: 65535, device_attribute.MAX_SHARED_MEMORY_PER_BLOCK: 49152,
    device_attribute.TOTAL_CONSTANT_MEMORY: 65536, device_attribute.WARP_SIZE: 32,
    device_attribute.MAX_REGISTERS_PER_BLOCK: 65536, device_attribute.CLOCK_RATE: 1980000,
    device_attribute.MULTIPROCESSOR_COUNT: 132, device_attribute.COMPUTE_CAPABILITY_MAJOR: 9,
    device_attribute.COMPUTE_CAPABILITY_MINOR: 0,
    device_attribute.MAX_THREADS_PER_MULTIPROCESSOR: 2048,
}
_TOTAL_MEMORY = 80 * 2**30


class Device:
    def __init__(self, ordinal: int) -> None:
        _check_init("cuDeviceGet")
        if ordinal != 0:
            raise LogicError("cuDeviceGet failed: invalid device ordinal")
        self.ordinal = 0

    @staticmethod
    def count() -> int:
        _check_init("cuDeviceGetCount")
        return 1 if _emulator().available() else 0

    def name(self) -> str:
        return "TorchTrek CUDA emulator"

    def compute_capability(self) -> tuple[int, int]:
        return (9, 0)

    def total_memory(self) -> int:
        return _TOTAL_MEMORY

    def pci_bus_id(self) -> str:
        return "0000:00:00.0"

    def get_attribute(self, attr: int) -> int:
        try:
            return _ATTRIBUTES[attr]
        except KeyError:
            raise LogicError("cuDeviceGetAttribute failed: invalid argument") from None

    def get_attributes(self) -> dict[int, int]:
        return dict(_ATTRIBUTES)

    def __getattr__(self, name: str) -> int:
        if name.isupper() or name.islower():
            att = getattr(device_attribute, name.upper(), None)
            if att is not None:
                return self.get_attribute(att)
        raise AttributeError(name)

    def retain_primary_context(self) -> Context:
        return _PRIMARY

    def make_context(self, flags: int = 0) -> Context:
        ctx = Context(self)
        ctx.push()
        return ctx

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.ordinal == self.ordinal

    def __hash__(self) -> int:
        return hash(("Device", self.ordinal))

    def __repr__(self) -> str:
        return "<pycuda._driver.Device (emulated) 0>"


# ---------------------------------------------------------------------- contexts
_TLS = threading.local()  # CUDA's current context is per thread


def _stack() -> list:
    s = getattr(_TLS, "stack", None)
    if s is None:
        s = _TLS.stack = []
    return s


class Context:
    def __init__(self, device: Device) -> None:
        self._device = device

    def push(self) -> None:
        _stack().append(self)

    @staticmethod
    def pop() -> None:
        s = _stack()
        if not s:
            raise LogicError("cuCtxPopCurrent failed: invalid device context")
        s.pop()

    def detach(self) -> None:
        s = _stack()
        if s and s[-1] is self:
            s.pop()

    @staticmethod
    def synchronize() -> None:
        _current("cuCtxSynchronize")

    @staticmethod
    def get_device() -> Device:
        return _current("cuCtxGetDevice")._device

    @staticmethod
    def get_current() -> Context | None:
        s = _stack()
        return s[-1] if s else None

    def __repr__(self) -> str:
        return "<pycuda._driver.Context (emulated)>"


_PRIMARY = Context.__new__(Context)


def _current(fn: str) -> Context:
    s = _stack()
    if not s:
        raise LogicError(f"{fn} failed: invalid device context (no current context in this thread)")
    if s[-1]._device is None:  # the primary context, device filled in lazily
        s[-1]._device = Device(0)
    return s[-1]


_PRIMARY._device = None


# ---------------------------------------------------------------------- memory
# Device memory: NumPy byte buffers (256-byte aligned), registered by address so copies
# and kernel arguments can be checked against the allocations that are live.
_MEM_LOCK = threading.RLock()
_STARTS: list[int] = []            # sorted start addresses of live blocks
_BLOCKS: dict[int, _Block] = {}    # start -> block


def _poison_on() -> bool:
    return os.environ.get("TORCHTREK_CUDA_EMULATOR_POISON", "1") not in ("0", "")


class _Block:
    __slots__ = ("buf", "capacity", "raw", "size", "start")

    def __init__(self, nbytes: int) -> None:
        cap = max(int(nbytes), 1)
        self.raw = np.empty(cap + 256, np.uint8)
        off = (-self.raw.ctypes.data) % 256
        self.buf = self.raw[off:off + cap]
        self.start = int(self.buf.ctypes.data)
        self.capacity = cap
        self.size = int(nbytes)

    def activate(self, nbytes: int) -> None:
        self.size = int(nbytes)
        if _poison_on():
            self.buf[:] = 0xFF
        with _MEM_LOCK:
            bisect.insort(_STARTS, self.start)
            _BLOCKS[self.start] = self

    def deactivate(self) -> None:
        with _MEM_LOCK:
            if _BLOCKS.get(self.start) is self:
                del _BLOCKS[self.start]
                i = bisect.bisect_left(_STARTS, self.start)
                if i < len(_STARTS) and _STARTS[i] == self.start:
                    del _STARTS[i]


def _find(addr: int, nbytes: int) -> tuple[_Block, int] | None:
    """(block, offset) for a live range [addr, addr + nbytes), else None."""
    with _MEM_LOCK:
        i = bisect.bisect_right(_STARTS, addr) - 1
        if i < 0:
            return None
        b = _BLOCKS[_STARTS[i]]
    off = addr - b.start
    if off + max(nbytes, 0) > b.size or (nbytes == 0 and off > b.size):
        return None
    return b, off


def _range(addr: int, nbytes: int, fn: str) -> np.ndarray:
    """The bytes [addr, addr + nbytes) of live device memory, as a NumPy view."""
    found = _find(addr, nbytes)
    if found is None:
        raise LogicError(f"{fn} failed: invalid argument (the emulator: {nbytes} byte(s) at {addr:#x} "
                         "are not inside live device memory: freed, returned to the pool, or out of "
                         "bounds)")
    b, off = found
    return b.buf[off:off + nbytes]


def device_view(addr: int, shape: tuple[int, ...], dtype: Any, strides: tuple[int, ...] | None = None,
                fn: str = "emulator") -> np.ndarray:
    """A NumPy view of device memory (what the fake GPUArray computes on)."""
    dt = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    strides = _c_strides(dt.itemsize, shape) if strides is None else tuple(int(s) for s in strides)
    if any(s == 0 for s in shape):
        return np.empty(shape, dt)
    lo = sum(st * (n - 1) for st, n in zip(strides, shape) if st < 0)
    hi = sum(st * (n - 1) for st, n in zip(strides, shape) if st > 0) + dt.itemsize
    found = _find(addr + lo, hi - lo)
    if found is None:
        raise LogicError(f"{fn} failed: invalid argument (the emulator: an array of shape {shape} at "
                         f"{addr:#x} is not inside live device memory)")
    b, off = found
    return np.ndarray(shape, dt, buffer=b.buf, offset=off - lo, strides=strides)


def _c_strides(itemsize: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], itemsize
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(1, s)
    return tuple(reversed(strides))


class _Allocation:
    """What DeviceAllocation and PooledDeviceAllocation share: the address."""

    _block: _Block | None

    def __int__(self) -> int:
        if self._block is None:
            raise LogicError("the allocation was freed")
        return self._block.start

    __index__ = __int__

    def __repr__(self) -> str:
        state = "freed" if self._block is None else f"{self._block.size} bytes at {self._block.start:#x}"
        return f"<{type(self).__name__} (emulated) {state}>"

    def as_buffer(self, size: int, offset: int = 0) -> memoryview:
        return memoryview(_range(int(self) + offset, size, "as_buffer"))


class DeviceAllocation(_Allocation):
    def __init__(self, block: _Block) -> None:
        self._block = block

    def free(self) -> None:
        b, self._block = self._block, None
        if b is not None:
            b.deactivate()

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:
            pass


def mem_alloc(nbytes: int) -> DeviceAllocation:
    _current("cuMemAlloc")
    nbytes = int(nbytes)
    if nbytes <= 0:
        raise LogicError("cuMemAlloc failed: invalid argument")
    b = _Block(nbytes)
    b.activate(nbytes)
    return DeviceAllocation(b)


def mem_alloc_like(ary: Any) -> DeviceAllocation:
    return mem_alloc(ary.nbytes)


def mem_get_info() -> tuple[int, int]:
    _current("cuMemGetInfo")
    with _MEM_LOCK:
        used = sum(b.capacity for b in _BLOCKS.values())
    return max(_TOTAL_MEMORY - used, 0), _TOTAL_MEMORY


def _addr(x: Any, fn: str, args: tuple) -> int:
    """A device pointer argument as Boost.Python converts it: ints and allocations."""
    if x is None or isinstance(x, (bool, float, np.ndarray, str, bytes)):
        raise _signature_error(fn, args)
    try:
        return int(x.__index__()) if hasattr(x, "__index__") else int(x.__int__())
    except AttributeError:
        raise _signature_error(fn, args) from None


def _host_bytes(a: Any, fn: str, writable: bool = False) -> np.ndarray:
    """A host buffer (contiguous) as a byte view, in memory order."""
    arr = np.asarray(a) if isinstance(a, np.ndarray) else np.frombuffer(memoryview(a), np.uint8)
    if arr.dtype == object:
        raise _signature_error(fn, (a,))
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        raise ValueError("ndarray is not contiguous")
    if writable and not arr.flags.writeable:
        raise ValueError("buffer is not writable")
    return arr.ravel(order="K").view(np.uint8)


def memcpy_htod(dest: Any, src: Any) -> None:
    _current("cuMemcpyHtoD")
    d = _addr(dest, "memcpy_htod", (dest, src))
    s = _host_bytes(src, "memcpy_htod")
    _range(d, s.size, "cuMemcpyHtoD")[...] = s


def memcpy_dtoh(dest: Any, src: Any) -> None:
    _current("cuMemcpyDtoH")
    s = _addr(src, "memcpy_dtoh", (dest, src))
    d = _host_bytes(dest, "memcpy_dtoh", writable=True)
    d[...] = _range(s, d.size, "cuMemcpyDtoH")


def memcpy_dtod(dest: Any, src: Any, size: int) -> None:
    _current("cuMemcpyDtoD")
    args = (dest, src, size)
    d, s = _addr(dest, "memcpy_dtod", args), _addr(src, "memcpy_dtod", args)
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise _signature_error("memcpy_dtod", args)
    src_bytes = _range(s, int(size), "cuMemcpyDtoD").copy()
    _range(d, int(size), "cuMemcpyDtoD")[...] = src_bytes


def memcpy_htod_async(dest: Any, src: Any, stream: Any = None) -> None:
    memcpy_htod(dest, src)


def memcpy_dtoh_async(dest: Any, src: Any, stream: Any = None) -> None:
    memcpy_dtoh(dest, src)


def memcpy_dtod_async(dest: Any, src: Any, size: int, stream: Any = None) -> None:
    memcpy_dtod(dest, src, size)


def _memset(fn: str, dest: Any, value: int, count: int, dtype: Any) -> None:
    _current(fn)
    d = _addr(dest, fn, (dest, value, count))
    dt = np.dtype(dtype)
    _range(d, int(count) * dt.itemsize, fn).view(dt)[...] = np.array(value).astype(dt)


def memset_d8(dest: Any, data: int, count: int) -> None:
    _memset("cuMemsetD8", dest, data, count, np.uint8)


def memset_d16(dest: Any, data: int, count: int) -> None:
    _memset("cuMemsetD16", dest, data, count, np.uint16)


def memset_d32(dest: Any, data: int, count: int) -> None:
    _memset("cuMemsetD32", dest, data, count, np.uint32)


def pagelocked_empty(shape: Any, dtype: Any, order: str = "C", mem_flags: int = 0) -> np.ndarray:
    return np.empty(shape, dtype, order=order)


def pagelocked_zeros(shape: Any, dtype: Any, order: str = "C", mem_flags: int = 0) -> np.ndarray:
    return np.zeros(shape, dtype, order=order)


def pagelocked_empty_like(array: Any, mem_flags: int = 0) -> np.ndarray:
    return np.empty_like(array)


def from_device(devptr: Any, shape: Any, dtype: Any, order: str = "C") -> np.ndarray:
    result = np.empty(shape, dtype, order=order)
    memcpy_dtoh(result, devptr)
    return result


def from_device_like(devptr: Any, other_ary: np.ndarray) -> np.ndarray:
    result = np.empty_like(other_ary)
    memcpy_dtoh(result, devptr)
    return result


def to_device(bf_obj: Any) -> DeviceAllocation:
    b = _host_bytes(bf_obj, "to_device")
    result = mem_alloc(b.size)
    memcpy_htod(result, bf_obj)
    return result


# ---------------------------------------------------------------------- streams, events
class Stream:
    def __init__(self, flags: int = 0) -> None:
        _current("cuStreamCreate")

    def synchronize(self) -> None:
        pass

    def is_done(self) -> bool:
        return True


class Event:
    def __init__(self, flags: int = 0) -> None:
        self._t: float | None = None

    def record(self, stream: Any = None) -> Event:
        self._t = time.perf_counter()
        return self

    def synchronize(self) -> Event:
        return self

    def query(self) -> bool:
        return True

    def time_since(self, event: Event) -> float:
        if self._t is None or event._t is None:
            raise LogicError("cuEventElapsedTime failed: invalid resource handle")
        return (self._t - event._t) * 1e3

    def time_till(self, event: Event) -> float:
        return event.time_since(self)


# ---------------------------------------------------------------------- modules, kernels
class Module:
    def __init__(self, source: str) -> None:
        emu = _emulator()
        try:
            self._lib = emu.library(source)
        except emu.EmulationError as err:
            raise CompileError(f"the CUDA emulator could not compile the module: {err}") from None
        self._source = source
        self._params = emu.kernel_params(source)

    def get_function(self, name: str) -> Function:
        if name not in self._lib.kernels:
            raise LogicError("cuModuleGetFunction failed: named symbol not found")
        return Function(self, name)

    def get_global(self, name: str) -> Any:
        raise LogicError("cuModuleGetGlobal failed: named symbol not found (not emulated)")


def module_from_buffer(buffer: Any, options: Any = None, message_handler: Any = None) -> Module:
    """The emulator's module: `buffer` is the module's CUDA source text (bytes), which
    runtime/cuda.py passes instead of nvcc's cubin when EMULATOR_TAKES_SOURCE is set."""
    _current("cuModuleLoadDataEx")
    data = bytes(buffer)
    if data.startswith((b"\x7fELF", b"//\n// Generated by NVIDIA")):
        raise LogicError("cuModuleLoadDataEx failed: device kernel image is invalid (the CUDA emulator "
                         "loads CUDA source text, not a cubin or PTX: load it where "
                         "pycuda.driver.EMULATOR_TAKES_SOURCE says so)")
    return Module(data.rstrip(b"\0").decode())


def module_from_file(filename: str) -> Module:
    with open(filename, "rb") as f:
        return module_from_buffer(f.read())


def _arg_layout(params: list, sig: str) -> list[tuple[str, int]]:
    if len(params) == len(sig) and all(p is not None for p in params):
        return params
    # a type the source scan does not know: the emulator's kinds, 64-bit where unknown
    return [("f", 4) if k == "f" else (k, 8) for k in sig]


class Function:
    """A kernel: prepare(format) and prepared_call(grid, block, *args) as pycuda's, the
    arguments packed as pycuda packs them (struct format) and read back by the kernel's
    parameter layout, so a value packed in the wrong width shows (as it would misplace
    the parameters after it on a GPU)."""

    num_regs = 32
    shared_size_bytes = 0
    const_size_bytes = 0
    local_size_bytes = 0
    max_threads_per_block = 1024

    def __init__(self, module: Module, name: str) -> None:
        self.module, self.name = module, name
        self.arg_format: str | None = None
        self.texrefs: list = []
        self._sig = module._lib.signature(name)
        self._layout = _arg_layout(module._params.get(name, []), self._sig)

    def get_attribute(self, attr: Any) -> int:
        return 0

    def prepare(self, arg_types: Any, texrefs: Any = None) -> Function:
        self.texrefs = list(texrefs or [])
        fmt = ""
        for arg_type in arg_types:
            if isinstance(arg_type, type) and np.number in arg_type.__mro__:
                fmt += np.dtype(arg_type).char
            elif isinstance(arg_type, np.dtype):
                fmt += "%ds" % arg_type.itemsize if arg_type.char == "V" else arg_type.char
            elif isinstance(arg_type, str):
                fmt += arg_type
            else:
                fmt += np.dtype(np.uintp).char
        self.arg_format = fmt
        return self

    def _pack(self, args: tuple) -> bytes:
        if self.arg_format is None:
            raise builtins.RuntimeError("prepared_call on a kernel that was not prepared")
        try:
            return struct.pack(self.arg_format, *args)
        except struct.error as err:
            raise struct.error(f"{self.name}: {err} (format {self.arg_format!r}, arguments "
                               f"{[type(a).__name__ for a in args]})") from None

    def prepared_call(self, grid: Any, block: Any, *args: Any, shared_size: int = 0) -> None:
        if not isinstance(block, tuple):
            args = (block, *args)
            block = None
        self._launch(grid, block, self._pack(args), shared_size)

    def prepared_async_call(self, grid: Any, block: Any, stream: Any, *args: Any, shared_size: int = 0) -> None:
        if not isinstance(block, tuple):
            args = (stream, *args)
            stream, block = block, None
        self._launch(grid, block, self._pack(args), shared_size)

    def prepared_timed_call(self, grid: Any, block: Any, *args: Any, shared_size: int = 0) -> Any:
        t0 = time.perf_counter()
        self.prepared_call(grid, block, *args, shared_size=shared_size)
        dt = time.perf_counter() - t0
        return lambda: dt

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        grid = kwargs.pop("grid", (1, 1))
        block = kwargs.pop("block", None)
        kwargs.pop("stream", None)
        shared = kwargs.pop("shared", 0)
        time_kernel = kwargs.pop("time_kernel", False)
        kwargs.pop("texrefs", None)
        if kwargs:
            raise ValueError("extra keyword arguments: %s" % ", ".join(kwargs))
        if block is None:
            raise ValueError("must specify block size")
        fmt, data = "", []
        for i, arg in enumerate(args):
            if isinstance(arg, np.number):
                fmt += arg.dtype.char
                data.append(arg)
            elif isinstance(arg, _Allocation):
                fmt += "P"
                data.append(int(arg))
            elif isinstance(arg, np.ndarray):
                fmt += "%ds" % arg.nbytes
                data.append(arg.tobytes())
            else:
                gpudata = getattr(arg, "gpudata", None)
                if gpudata is None and not hasattr(arg, "gpudata"):
                    raise TypeError("invalid type on parameter #%d (0-based)" % i)
                fmt += "P"
                data.append(int(np.uintp(gpudata)))
        t0 = time.perf_counter()
        self._launch(grid, block, struct.pack(fmt, *data), shared)
        return time.perf_counter() - t0 if time_kernel else None

    def _launch_kernel(self, grid: Any, block: Any, arg_buf: bytes, shared_size: int, stream: Any) -> None:
        """pycuda's C++ function::launch_kernel: cuLaunchKernel with a packed buffer."""
        self._launch(grid, block, arg_buf, shared_size)

    def _launch(self, grid: Any, block: Any, buf: bytes, shared_size: int) -> None:
        _current("cuLaunchKernel")
        if block is None:
            raise LogicError("cuLaunchKernel failed: invalid argument (no block shape)")
        grid = tuple(int(g) for g in grid)
        block = tuple(int(b) for b in block)
        words, off = [], 0
        for j, (kind, size) in enumerate(self._layout):
            off = (off + size - 1) // size * size
            if off + size > len(buf):
                raise LogicError(f"cuLaunchKernel failed: invalid argument (the emulator: {self.name} takes "
                                 f"{len(self._layout)} parameter(s), {self._expected()} bytes; the "
                                 f"arguments packed as {self.arg_format!r} are {len(buf)} bytes)")
            v = int.from_bytes(buf[off:off + size], "little")
            if kind == "P" and v and _find(v, 0) is None:
                raise LaunchError(f"cuLaunchKernel: an illegal memory access (the emulator: argument {j} of "
                                  f"{self.name}, {v:#x}, is not in live device memory)")
            if kind == "P" and not v:
                raise LaunchError(f"cuLaunchKernel: an illegal memory access (the emulator: argument {j} of "
                                  f"{self.name} is a null pointer)")
            if kind == "i" and size < 8 and v >> (8 * size - 1):
                v -= 1 << (8 * size)  # sign-extend; the shim casts to the parameter's type
            words.append(v)
            off += size
        if off != len(buf):
            raise LogicError(f"cuLaunchKernel failed: invalid argument (the emulator: {self.name}'s parameters "
                             f"take {off} bytes, the arguments packed as {self.arg_format!r} are {len(buf)})")
        emu = _emulator()
        try:
            self.module._lib.launch_words(self.name, grid, block, words)
        except emu.EmulationError as err:
            text = str(err)
            if "invalid grid" in text or "invalid block" in text:
                raise LogicError(f"cuLaunchKernel failed: invalid argument ({text})") from None
            raise LaunchError(f"cuLaunchKernel failed: unspecified launch failure ({text})") from None

    def _expected(self) -> int:
        off = 0
        for _, size in self._layout:
            off = (off + size - 1) // size * size + size
        return off
