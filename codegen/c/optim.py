"""The C backend's optimizer kernels: `adam_step` (ir/ops/optim.py) printed from optim.c.j2,
the whole update of a parameter in one pass over it."""

from __future__ import annotations

import math
from typing import Any

from ...ir.graph import Eqn, Var
from ...ir.symdims import is_symbolic
from ..cfamily.printer import C_TYPES
from .units import TemplateUnit

# elements below which the update runs on one thread (it is memory-bound: above this,
# two cores read faster than one, below it waking the second costs more)
PARALLEL_MIN = 1 << 15


class AdamKernel(TemplateUnit):
    """One adam_step equation as a C kernel; the unit interface of generator.generate."""

    def __init__(self, e: Eqn, env: Any) -> None:
        super().__init__(e)
        # p, exp_avg and exp_avg_sq may be updated where they are (generator._write_in_place)
        self.may_overwrite = {0: 0, 1: 2, 2: 3}
        self.in_place: dict[int, int] = {}
        p = e.inputs[0]
        n = math.prod(p.shape)
        # the size is an argument, not in the source: one kernel (one C compile) serves
        # every parameter of a dtype, which eager steps over many shapes want most
        self.extra_args = [f"np.array({n}, dtype=np.int64)"]
        self.source = env.get_template("optim.c.j2").render(
            ctype=C_TYPES[p.dtype.name], parallel_min=PARALLEL_MIN,
            small=bool(e.params["small"]), decay=bool(e.params["decay"]),
            decoupled=bool(e.params["decoupled"]),
            comment=f"adam_step: {p.dtype.name}, n elements (the size argument)")

    @staticmethod
    def fits(e: Eqn) -> bool:
        return (e.op == "adam_step" and all(isinstance(a, Var) for a in e.inputs)
                and not any(is_symbolic(n) for n in e.inputs[0].shape))
