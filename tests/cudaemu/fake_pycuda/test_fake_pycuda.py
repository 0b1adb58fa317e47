"""The fake pycuda of CUDA simulator mode (TORCHTREK_CUDA_EMULATOR=1) keeps pycuda's
semantics and failure modes: the host-side bugs it is there to catch must fail here as
they fail on a GPU. Imported without touching the session's `pycuda` (a normal run must
not find a fake GPU)."""

import importlib
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

FAKE = str(Path(__file__).resolve().parent)


def _import_fake():
    loaded = sys.modules.get("pycuda")
    if loaded is not None and getattr(loaded, "EMULATED", False):  # simulator mode already
        return tuple(importlib.import_module(f"pycuda.{m}") for m in ("driver", "gpuarray", "tools"))
    saved = {k: v for k, v in sys.modules.items() if k == "pycuda" or k.startswith("pycuda.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, FAKE)
    try:
        mods = tuple(importlib.import_module(f"pycuda.{m}") for m in ("driver", "gpuarray", "tools"))
    finally:
        sys.path.remove(FAKE)
        for k in [k for k in sys.modules if k == "pycuda" or k.startswith("pycuda.")]:
            del sys.modules[k]  # keep TorchTrek's view of pycuda as it was
        sys.modules.update(saved)
    return mods


drv, gpuarray, tools = _import_fake()
emulator = drv._emulator()
pytestmark = pytest.mark.skipif(not emulator.available(), reason="the CUDA emulator needs g++")


@pytest.fixture(autouse=True)
def ctx():
    drv.init()
    c = drv.Device(0).retain_primary_context()
    c.push()
    yield c
    drv.Context.pop()


def test_device_and_context():
    dev = drv.Device(0)
    assert drv.Device.count() == 1 and dev.name() == "TorchTrek CUDA emulator"
    assert dev.compute_capability() == (9, 0)
    assert drv.Context.get_device() == dev
    drv.Context.synchronize()
    with pytest.raises(drv.LogicError):
        drv.Device(1)


def test_a_thread_without_a_context_cannot_allocate():
    errors = []

    def body():
        try:
            gpuarray.GPUArray((4,), np.float32)
        except drv.LogicError as err:
            errors.append(err)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert errors and "invalid device context" in str(errors[0])


def test_set_get_views_and_copies():
    pool = tools.DeviceMemoryPool()
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    a = gpuarray.GPUArray(x.shape, x.dtype, allocator=pool.allocate)
    a.set(x)
    np.testing.assert_array_equal(a.get(), x)
    np.testing.assert_array_equal(a.reshape(4, 3).get(), x.reshape(4, 3))
    np.testing.assert_array_equal(a.T.get(), x.T)
    np.testing.assert_array_equal(a[1].get(), x[1])
    np.testing.assert_array_equal(a[:, 1:3].get(), x[:, 1:3])
    np.testing.assert_array_equal(a.copy().get(), x)
    np.testing.assert_array_equal(a.astype(np.float64).get(), x.astype(np.float64))
    a.reshape(12)[5:7].fill(-1)  # views share memory
    assert a.get()[1, 1] == -1 and a.get()[1, 2] == -1
    with pytest.raises(ValueError, match="same dtype"):
        a.set(x.astype(np.float64))
    with pytest.raises(ValueError, match="same size"):
        a.set(np.zeros(5, np.float32))


def test_arithmetic_has_no_float16_kernel():
    a = gpuarray.to_gpu(np.ones(4, np.float32))
    np.testing.assert_array_equal((a + a).get(), np.full(4, 2, np.float32))
    np.testing.assert_array_equal((a * 3 - 1).get(), np.full(4, 2, np.float32))
    h = gpuarray.to_gpu(np.ones(4, np.float16))
    for op in (lambda: h + h, lambda: h * 2, lambda: h.fill(0), lambda: h.astype(np.float32)):
        with pytest.raises(ValueError, match="unable to map dtype 'float16'"):
            op()
    with pytest.raises(NotImplementedError, match="Broadcasting"):
        a + gpuarray.to_gpu(np.ones(2, np.float32))


def test_empty_arrays_as_pycuda_has_them():
    e = gpuarray.GPUArray((0, 3), np.float32)
    assert e.gpudata is None and e.get().shape == (0, 3)
    with pytest.raises(TypeError, match="memcpy_dtod"):  # Boost.Python's ArgumentError
        e.copy()


def test_a_gpuarray_is_not_a_numpy_array():
    a = gpuarray.to_gpu(np.ones(4, np.float32))
    with pytest.raises(TypeError):
        np.copyto(a, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="not hashable"):
        hash(a)


def test_copies_are_checked_against_live_memory():
    a = drv.mem_alloc(16)
    b = drv.mem_alloc(16)
    drv.memcpy_dtod(int(b), int(a), 16)
    with pytest.raises(drv.LogicError, match="not inside live device memory"):
        drv.memcpy_dtod(int(b), int(a), 32)  # out of bounds
    addr = int(a)
    a.free()
    with pytest.raises(drv.LogicError, match="not inside live device memory"):
        drv.memcpy_dtod(int(b), addr, 16)  # freed
    with pytest.raises(TypeError):
        drv.memcpy_dtod(None, int(b), 0)
    with pytest.raises(drv.LogicError):
        drv.mem_alloc(0)


def test_pool_reuses_blocks_and_poisons_them():
    pool = tools.DeviceMemoryPool()
    a = pool.allocate(1000)
    addr = int(a)
    drv.memcpy_htod(a, np.zeros(250, np.float32))
    del a
    assert pool.held_blocks == 1
    with pytest.raises(drv.LogicError):
        drv.memcpy_dtoh(np.empty(250, np.float32), addr)  # back in the pool: not live
    b = pool.allocate(1000)
    assert int(b) == addr
    out = np.empty(250, np.float32)
    drv.memcpy_dtoh(out, b)
    assert np.isnan(out).all()  # poisoned, not the zeros written before
    pool.stop_holding()


KERNEL = r'''
extern "C" __global__ void __launch_bounds__(256) axpy(float* __restrict__ out, const float* __restrict__ x,
                                                       unsigned long long n, float a) {
  unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
  if (i < n) out[i] = a * x[i] + 1.0f;
}
'''


def test_kernels_run_with_prepared_calls_and_check_their_arguments():
    mod = drv.module_from_buffer(KERNEL.encode())
    fn = mod.get_function("axpy").prepare("PPQf")
    x = gpuarray.to_gpu(np.arange(300, dtype=np.float32))
    out = gpuarray.GPUArray((300,), np.float32)
    fn.prepared_call((2, 1, 1), (256, 1, 1), out.gpudata, x.gpudata, 300, 2.0)
    np.testing.assert_array_equal(out.get(), 2 * np.arange(300, dtype=np.float32) + 1)
    with pytest.raises(drv.LogicError, match="get_function|named symbol"):
        mod.get_function("nope")
    # all arguments packed as 64-bit words: the float lands at the wrong offset on a GPU
    with pytest.raises(drv.LogicError, match="invalid argument"):
        mod.get_function("axpy").prepare("PPPP").prepared_call((1, 1, 1), (256, 1, 1), out.gpudata,
                                                                  x.gpudata, 300, 0)
    with pytest.raises(struct.error):  # pycuda's struct packing: a None pointer
        fn.prepared_call((1, 1, 1), (256, 1, 1), None, x.gpudata, 300, 2.0)
    y = gpuarray.to_gpu(np.ones(4, np.float32))
    dangling = int(y.gpudata)
    del y
    with pytest.raises(drv.LaunchError, match="live device memory"):
        fn.prepared_call((1, 1, 1), (256, 1, 1), out.gpudata, dangling, 4, 2.0)
    with pytest.raises(drv.LogicError):
        fn.prepared_call((1, 1, 1), (2048, 1, 1), out.gpudata, x.gpudata, 300, 2.0)
    with pytest.raises(drv.LogicError, match="not a cubin"):
        drv.module_from_buffer(b"\x7fELF\x02\x01\x01")
