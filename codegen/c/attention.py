"""The C backend's fused attention kernels: `sdpa` and `sdpa_backward` equations
(ir/ops/attention.py) printed from attention.c.j2, with a wrapper that passes each
operand's strides instead of copying it contiguous (only the last dim must be)."""

from __future__ import annotations

import math
from typing import Any

from ...ir.graph import Eqn, Var
from ...ir.symdims import is_symbolic
from ..cfamily.printer import C_TYPES
from .units import TemplateUnit

OPS = ("sdpa", "sdpa_backward")
MAX_WIDTH = 256  # widest E / Ev the kernels' stack tiles are sized for
VECTOR_BYTES = 64
BLOCK_Q = 64
PARALLEL_MIN_FLOPS = 1 << 20  # below this, one thread (a parallel region costs ~µs)


class AttentionKernel(TemplateUnit):
    """One attention equation as a C kernel; the unit interface of generator.generate
    (e, params, args, name, source, outputs, wrapper)."""

    n_extra = 1  # the strides array

    def __init__(self, e: Eqn, env: Any) -> None:
        super().__init__(e)
        q, k, v = e.inputs[:3]
        nb, nh, L, E = q.shape
        S, EV = k.shape[-2], v.shape[-1]
        self.mask = len(e.inputs) == (4 if e.op == "sdpa" else 7)  # (its last input)
        self.scores_shape = (nb, nh, L, S)
        ctype = C_TYPES[q.dtype.name]
        vl = VECTOR_BYTES // q.dtype.itemsize
        scale = float(e.params["scale"])
        flops = nb * nh * L * S * (E + EV) * (1 if e.op == "sdpa" else 3)
        where = f"  ({e.loc})" if e.loc else ""
        comment = (f"{e.op}: {nb}x{nh} heads, {L} queries, {S} keys, widths {E}/{EV}, "
                   f"scale {scale!r}{', causal' if e.params['causal'] else ''}{where}")
        self.source = env.get_template("attention.c.j2").render(
            backward=e.op == "sdpa_backward", ctype=ctype, vl=vl,
            ep=-(-E // vl) * vl, evp=-(-EV // vl) * vl, bq=BLOCK_Q, NB=nb, NH=nh, L=L, S=S,
            E=E, EV=EV, scale=repr(scale) + ("f" if ctype == "float" else ""),
            causal=bool(e.params["causal"]), parallel=flops >= PARALLEL_MIN_FLOPS,
            mask=self.mask, mask_at=9 if e.op == "sdpa" else 15,
            comment=comment.replace("*/", "* /"))

    @staticmethod
    def fits(e: Eqn) -> bool:
        """Can this equation run as the C kernel (static 4-D shapes, float, small widths)?"""
        if e.op not in OPS:
            return False
        q, k, v = e.inputs[:3]
        if not all(isinstance(a, Var) for a in e.inputs) or q.ndim != 4:
            return False
        if any(is_symbolic(n) for a in e.inputs for n in a.shape):
            return False
        return (q.dtype.name in ("float32", "float64") and q.shape[-1] <= MAX_WIDTH
                and v.shape[-1] <= MAX_WIDTH and math.prod(q.shape) > 0 and k.shape[-2] > 0)

    def wrapper(self, name: str, slot: int, comment: str, c_name: str) -> str:
        """`_name(*operands)`: rows made contiguous where they are not, strides (in
        elements, the batch, head and row dims of each 4-D operand) in one int64 array."""
        xs = [f"x{j}" for j in range(len(self.params))]
        dt = self.e.inputs[0].dtype
        size = dt.itemsize
        lines = [f"def _{name}({', '.join(xs)}):", f"    # {comment}"]
        last = len(self.params) - 1
        for j, (a, _) in enumerate(self.params):
            if self.mask and j == last:  # read as (B, H, L, S), broadcast dims at stride 0
                lines.append(f"    x{j} = np.broadcast_to(np.asarray(x{j}, dtype=np.{dt.name}), "
                             f"{self.scores_shape})")
            elif a.ndim == 4:
                lines.append(f"    x{j} = x{j} if x{j}.dtype == np.{dt.name} and x{j}.strides[-1] == "
                             f"{size} else np.ascontiguousarray(x{j}, dtype=np.{dt.name})")
            else:  # the log-sum-exp, read as (heads, L)
                lines.append(f"    x{j} = np.ascontiguousarray(x{j}, dtype=np.{dt.name})")
        strided = " + ".join(f"x{j}.strides[:3]" for j, (a, _) in enumerate(self.params)
                             if a.ndim == 4 and not (self.mask and j == last))
        if self.mask:
            strided += f" + x{last}.strides"
        lines.append(f"    st = np.array({strided}, dtype=np.int64) // {size}")
        outs = [f"out{k}" for k in range(len(self.outputs))]
        for k, o in enumerate(self.outputs):
            lines.append(f"    out{k} = _out({slot + k}, {o.shape}, np.{o.dtype.name})")
        lines.append(f"    _call(_k.{c_name}, {', '.join(list(xs) + ['st'] + outs)})")
        lines.append(f"    return {', '.join(outs)}")
        return "\n".join(lines)
