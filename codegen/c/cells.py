"""The C backend's recurrent-cell kernels: the `lstm_cell`, `gru_cell` equations and their
backwards (ir/ops/rnn.py) printed from rnn.c.j2, one pass over each row for all the gates."""

from __future__ import annotations

from typing import Any

from ...ir.graph import Eqn, Var
from ...ir.symdims import is_symbolic
from ..cfamily.printer import C_TYPES
from .units import TemplateUnit

# op -> (template kind, the operand holding the (B, H) state)
OPS = {"lstm_cell": ("lstm", 2), "lstm_cell_backward": ("lstm_backward", 1),
       "gru_cell": ("gru", 2), "gru_cell_backward": ("gru_backward", 1)}
PARALLEL_MIN = 1 << 18  # elements below which the rows run on one thread


class CellKernel(TemplateUnit):
    """One cell equation as a C kernel; the unit interface of generator.generate."""

    def __init__(self, e: Eqn, env: Any) -> None:
        super().__init__(e)
        kind, state = OPS[e.op]
        c = e.inputs[state]
        B, H = c.shape
        where = f"  ({e.loc})" if e.loc else ""
        self.source = env.get_template("rnn.c.j2").render(
            kind=kind, ctype=C_TYPES[c.dtype.name], B=B, H=H,
            parallel=B * H * 5 >= PARALLEL_MIN,
            comment=f"{e.op}: {B} rows of {H} units{where}".replace("*/", "* /"))

    @staticmethod
    def fits(e: Eqn) -> bool:
        return (e.op in OPS and all(isinstance(a, Var) for a in e.inputs)
                and e.inputs[0].dtype.name in ("float32", "float64")
                and not any(is_symbolic(n) for a in e.inputs for n in a.shape))
