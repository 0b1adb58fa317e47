"""The C backend's recurrent-cell kernels: `lstm_cell` and `lstm_cell_backward` equations
(ir/ops/rnn.py) printed from rnn.c.j2, one pass over each row for all four gates."""

from __future__ import annotations

from typing import Any

from ...ir.graph import Eqn, Var
from ...ir.symdims import is_symbolic
from ..cfamily.printer import C_TYPES

OPS = ("lstm_cell", "lstm_cell_backward")
PARALLEL_MIN = 1 << 18  # elements below which the rows run on one thread


class CellKernel:
    """One cell equation as a C kernel; the unit interface of generator.generate."""

    def __init__(self, e: Eqn, env: Any) -> None:
        self.e = e
        self.name = "KERNEL"
        self.params = [(a, tuple(a.shape)) for a in e.inputs]
        self.outputs = list(e.outputs)
        c = e.inputs[2] if e.op == "lstm_cell" else e.inputs[1]
        B, H = c.shape
        where = f"  ({e.loc})" if e.loc else ""
        self.source = env.get_template("rnn.c.j2").render(
            backward=e.op == "lstm_cell_backward", ctype=C_TYPES[c.dtype.name], B=B, H=H,
            parallel=B * H * 5 >= PARALLEL_MIN,
            comment=f"{e.op}: {B} rows of {H} units{where}".replace("*/", "* /"))

    @staticmethod
    def fits(e: Eqn) -> bool:
        return (e.op in OPS and all(isinstance(a, Var) for a in e.inputs)
                and e.inputs[0].dtype.name in ("float32", "float64")
                and not any(is_symbolic(n) for a in e.inputs for n in a.shape))

    @property
    def args(self) -> list[Var]:
        return [v for v, _ in self.params]
