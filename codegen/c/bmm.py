"""The C backend's batched matmul: a `matmul` of operands with the same batch dims, small
matrices and many of them (attention's q @ k.T and att @ v), printed from bmm.c.j2: one
cblas_?gemm of NumPy's OpenBLAS per matrix, threads splitting the batch. np.matmul makes
the same calls one after another on one thread (each is below OpenBLAS's own threading
threshold); a GPT step's 24 of them took ~130 us each on this 2-core box, ~75 here."""

from __future__ import annotations

import math
from typing import Any

from ...ir.graph import Eqn, Var
from ...ir.symdims import is_symbolic
from ..cfamily.printer import C_TYPES
from .units import TemplateUnit

MAX_MNK = 1 << 18  # per-matrix M*N*K above which OpenBLAS threads one product itself
PARALLEL_MIN_MNK = 1 << 18  # total work below which one thread does the batch


class BatchedMatmulKernel(TemplateUnit):
    """One batched matmul as a C kernel; the unit interface of generator.generate."""

    n_extra = 2  # the strides array and the BLAS addresses

    def __init__(self, e: Eqn, env: Any) -> None:
        super().__init__(e)
        a, b = e.inputs
        *batch, M, K = a.shape
        N = b.shape[-1]
        nb = math.prod(batch)
        where = f"  ({e.loc})" if e.loc else ""
        comment = f"matmul: {nb} products of {M}x{K} by {K}x{N} ({'x'.join(map(str, batch))}){where}"
        self.source = env.get_template("bmm.c.j2").render(
            T=C_TYPES[a.dtype.name], which=0 if a.dtype.name == "float32" else 1, sizes=batch,
            NB=nb, M=M, N=N, K=K, parallel=nb * M * N * K >= PARALLEL_MIN_MNK,
            comment=comment.replace("*/", "* /"))

    @staticmethod
    def fits(e: Eqn) -> bool:
        """Operands of one float dtype with the same static batch dims (two or more
        matrices), each product small enough that OpenBLAS would not thread it; and
        NumPy's OpenBLAS at hand (64-bit integers) for the kernel to call."""
        if e.op != "matmul" or len(e.inputs) != 2 or not all(isinstance(x, Var) for x in e.inputs):
            return False
        a, b = e.inputs
        if a.ndim < 3 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
            return False
        if any(is_symbolic(n) for x in (a, b) for n in x.shape):
            return False
        if a.dtype != b.dtype or a.dtype.name not in ("float32", "float64"):
            return False
        *batch, M, K = a.shape
        N = b.shape[-1]
        if math.prod(batch) < 2 or M * N * K == 0 or M * N * K > MAX_MNK:
            return False
        from ...runtime import openblas

        return openblas.gemm_table() is not None

    def wrapper(self, name: str, slot: int, comment: str, c_name: str) -> str:
        """`_name(a, b)`: each operand as cblas reads it (in place, or copied where it
        cannot), its strides, the output from the pool, the kernel."""
        o = self.outputs[0]
        return "\n".join([
            f"def _{name}(x0, x1):", f"    # {comment}",
            "    x0, x1, st = _gemm_strides(x0, x1)",
            f"    out0 = _out({slot}, {o.shape}, np.{o.dtype.name})",
            f"    _call(_k.{c_name}, x0, x1, st, _blas, out0)",
            "    return out0"])
