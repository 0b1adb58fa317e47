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

from .generator import CudaModule

ARCHS = ("sm_80", "sm_90")


def nvcc_path() -> str | None:
    path = shutil.which("nvcc")
    if path is None and os.environ.get("CUDA_HOME"):
        cand = os.path.join(os.environ["CUDA_HOME"], "bin", "nvcc")
        path = cand if os.path.exists(cand) else None
    return path


def _wrap(module: CudaModule, j: int) -> str:
    body = module.cuda_source
    head, _, rest = body.partition("#define __TT_INLINE__ __device__ __forceinline__\n")
    for k in module.kernels:
        rest = re.sub(rf"\b{re.escape(k.name)}\b", f"m{j}_{k.name}", rest)
    return f"namespace m{j} {{\n{rest}\n}}  // namespace m{j}\n"


def compile_batch(modules: Sequence[CudaModule], arch: str, workdir: Path) -> str | None:
    """None when nvcc accepts every module; else nvcc's error text."""
    parts = ["#include <cstdint>\n#include <cmath>\n#include <climits>\n"
             "#define __TT_INLINE__ __device__ __forceinline__\n"]
    parts += [_wrap(m, j) for j, m in enumerate(modules)]
    fd, path = tempfile.mkstemp(suffix=".cu", dir=workdir)
    with os.fdopen(fd, "w") as f:
        f.write("".join(parts))
    out = path[:-3] + ".cubin"
    proc = subprocess.run([nvcc_path() or "nvcc", "-cubin", f"-arch={arch}", "-O1", "-std=c++17",
                           "-diag-suppress=177", "-o", out, path], capture_output=True, text=True)
    if proc.returncode != 0:
        return proc.stderr[-4000:]
    return None


def compile_all(modules: Sequence[CudaModule], archs: Sequence[str] = ARCHS,
                batch: int = 300, jobs: int = 2) -> list[str]:
    """Compile every module for every arch; returns the error texts (empty: all good)."""
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = [(list(modules[i:i + batch]), arch) for arch in archs
                for i in range(0, len(modules), batch)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for err in pool.map(lambda w: compile_batch(w[0], w[1], Path(tmp)), work):
                if err:
                    errors.append(err)
    return errors
