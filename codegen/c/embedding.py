"""The C backend's embedding backward: `embedding_backward` (ir/ops/nn.py) printed from
embedding.c.j2, a sequential scatter-add over the rows (the NumPy emitter's np.add.at
visits one index at a time through Python-level machinery: 0.7 ms for 512 rows of 128
in a GPT step, against ~20 us here)."""

from __future__ import annotations

import math
from typing import Any

from ...ir.graph import Eqn, Var
from ...ir.symdims import is_symbolic
from ..cfamily.printer import C_TYPES
from .units import TemplateUnit

PARALLEL_MIN = 1 << 16  # gradient elements below which one thread does all the columns


class EmbeddingBackwardKernel(TemplateUnit):
    """One embedding_backward equation as a C kernel; the unit interface of
    generator.generate."""

    def __init__(self, e: Eqn, env: Any) -> None:
        super().__init__(e)
        ct, idx = e.inputs
        out = e.outputs[0]
        rows, width = math.prod(idx.shape), math.prod(out.shape[1:])
        parallel = rows * width >= PARALLEL_MIN
        where = f"  ({e.loc})" if e.loc else ""
        self.source = env.get_template("embedding.c.j2").render(
            T=C_TYPES[ct.dtype.name], I=C_TYPES[idx.dtype.name], NW=out.shape[0], D=width,
            R=rows, pad=e.params["padding_idx"], parallel=parallel,
            CB=max(16, -(-width // 2)) if parallel else width,
            comment=f"embedding_backward: {rows} rows into {out.type}{where}".replace("*/", "* /"))

    @staticmethod
    def fits(e: Eqn) -> bool:
        if e.op != "embedding_backward" or not all(isinstance(a, Var) for a in e.inputs):
            return False
        ct, idx = e.inputs
        return (ct.dtype.name in ("float32", "float64")
                and idx.dtype.name in ("int64", "int32", "int16", "int8", "uint8")
                and not any(is_symbolic(n) for a in (ct, idx, e.outputs[0]) for n in a.shape))
