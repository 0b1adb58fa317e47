"""A fake pycuda for TorchTrek's CUDA simulator mode (TORCHTREK_CUDA_EMULATOR=1).

Device memory is NumPy memory, kernels run on the CPU through tests/cudaemu/emulator.py
(the module's CUDA source compiled by g++ behind cuda_shim.h). Only the part of pycuda's
API that TorchTrek (runtime/cuda.py, runtime/arrays.py, the CUDA export) uses is here,
with pycuda 2026.1's semantics and, where cheap, its failure modes: GPUArray arithmetic
has no float16 kernel (ValueError: unable to map dtype 'float16'), copying an empty
GPUArray passes None to memcpy_dtod (a Boost.Python ArgumentError, a TypeError), a
GPUArray is not a NumPy array (np.copyto on one raises), arrays need a current context.

On top of pycuda, device memory is checked: copies and kernel pointer arguments must lie
in live allocations (not freed, not returned to the pool, not out of bounds), and fresh
memory is poisoned (0xFF bytes: NaN for floats, -1 for integers) so that reads of memory
nothing wrote stand out. TORCHTREK_CUDA_EMULATOR_POISON=0 turns the poison off.

Not a GPU: kernels run serially (races are not seen), launches are synchronous, streams
and events are trivial, and only sources written as TorchTrek writes them (extern "C"
__global__ kernels) can be loaded.
"""

VERSION = (2026, 1)
VERSION_STATUS = ""
VERSION_TEXT = "2026.1"

EMULATED = True  # what TorchTrek's test configuration checks to tell the fake from pycuda
