"""Fake pycuda.compiler: SourceModule loads the source into the CUDA emulator (no nvcc)."""

from __future__ import annotations

import re
from typing import Any

from . import driver as drv

_GLOBAL = re.compile(r'(?<!extern "C" )\b__global__\b')


def _extern_c(source: str) -> str:
    """pycuda wraps the source in extern "C" { }; the emulator finds kernels declared
    extern "C" one by one, so each __global__ gets the prefix instead."""
    return _GLOBAL.sub('extern "C" __global__', source)


def compile(source: str, nvcc: str = "nvcc", options: Any = None, keep: bool = False,
            no_extern_c: bool = False, arch: Any = None, code: Any = None, cache_dir: Any = None,
            include_dirs: Any = (), target: str = "cubin") -> bytes:
    """What module_from_buffer takes in the emulator: the source text, not a cubin."""
    return (source if no_extern_c else _extern_c(source)).encode()


class SourceModule:
    def __init__(self, source: str, nvcc: str = "nvcc", options: Any = None, keep: bool = False,
                 no_extern_c: bool = False, arch: Any = None, code: Any = None, cache_dir: Any = None,
                 include_dirs: Any = ()) -> None:
        self._check_arch = None
        self.module = drv.module_from_buffer(compile(source, no_extern_c=no_extern_c))
        self.get_function = self.module.get_function
        self.get_global = self.module.get_global


DynamicSourceModule = SourceModule
