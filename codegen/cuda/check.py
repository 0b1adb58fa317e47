"""Compile many generated CUDA modules with nvcc at once (no GPU needed): each module
goes into its own namespace with its kernels renamed, batches compile in parallel."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from .generator import HALF_PREAMBLE, CudaModule

ARCHS = ("sm_80", "sm_90")


def nvcc_path() -> str | None:
    path = shutil.which("nvcc")
    if path is None and os.environ.get("CUDA_HOME"):
        cand = os.path.join(os.environ["CUDA_HOME"], "bin", "nvcc")
        path = cand if os.path.exists(cand) else None
    return path


def distinct_kernels(modules: Sequence[CudaModule]) -> tuple[str, list[str]]:
    """The shared preamble and every distinct kernel (named KERNEL). A module is the
    preamble plus its kernels, so compiling each distinct kernel once after the preamble
    checks every module."""
    preamble = ""
    kernels: dict[str, None] = {}
    for m in modules:
        head, _, rest = m.cuda_source.partition("#define __TT_INLINE__ __device__ __forceinline__\n")
        first = rest.find("\n// ", rest.find("tt_argmax_step"))
        preamble = preamble or rest[:first]
        for k in m.kernels:
            kernels.setdefault(re.sub(rf"\b{re.escape(k.name)}\b", "KERNEL", k.source), None)
    return preamble, list(kernels)


def compile_kernels(preamble: str, kernels: Sequence[str], arch: str, workdir: Path) -> str | None:
    """None when nvcc accepts every kernel; else nvcc's error text."""
    parts = ["#include <cstdint>\n#include <cmath>\n#include <climits>\n", HALF_PREAMBLE,
             "#define __TT_INLINE__ __device__ __forceinline__\n", preamble]
    parts += [k.replace("KERNEL", f"k{j}", 1) + "\n" for j, k in enumerate(kernels)]
    fd, path = tempfile.mkstemp(suffix=".cu", dir=workdir)
    with os.fdopen(fd, "w") as f:
        f.write("".join(parts))
    out = path[:-3] + ".cubin"
    proc = subprocess.run([nvcc_path() or "nvcc", "-cubin", f"-arch={arch}", "-O1", "-Xptxas", "-O0", "-std=c++17",
                           "-diag-suppress=177", "-o", out, path], capture_output=True, text=True)
    if proc.returncode != 0:
        return proc.stderr[-4000:]
    return None


def compile_all(modules: Sequence[CudaModule], archs: Sequence[str] = ARCHS,
                batch: int = 400, jobs: int = 2) -> list[str]:
    """Compile every module for every arch; returns the error texts (empty: all good)."""
    preamble, kernels = distinct_kernels(modules)
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = [(kernels[i:i + batch], arch) for arch in archs for i in range(0, len(kernels), batch)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for err in pool.map(lambda w: compile_kernels(preamble, w[0], w[1], Path(tmp)), work):
                if err:
                    errors.append(err)
    return errors
