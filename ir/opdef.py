"""The op registry: every op is declared once, as data (see ir/ops.py).

An OpDef carries the shape/dtype rule, and either a sympy formula (pointwise ops: the
gradient is derived from it, the kernels are printed from it) or a VJP rule written in
IR ops plus an emitter template per backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sympy

from .graph import Atom, Eqn, TensorType

InferRule = Callable[[Sequence[TensorType], dict[str, Any]], tuple[TensorType, ...]]
# formula(*input_symbols, **attrs) -> sympy expression of the result
Formula = Callable[..., sympy.Expr]
# grad(*input_symbols, out=symbol, **attrs) -> one derivative expression per input
GradOverride = Callable[..., Sequence[sympy.Expr]]
# vjp(builder, eqn, cotangent) -> one cotangent (or None) per input
VjpRule = Callable[[Any, Eqn, Atom], Sequence[Atom | None]]


@dataclass(frozen=True)
class OpDef:
    name: str
    kind: str  # pointwise | reduce | movement | matmul | creation | select | cast
    infer: InferRule
    formula: Formula | None = None
    grad: GradOverride | None = None
    vjp: VjpRule | None = None
    # backend name -> emitter: a format string over {0}, {1}.. (inputs) and attrs,
    # or a callable (input_exprs, attrs) -> expression string
    emit: dict[str, str | Callable[..., str]] = field(default_factory=dict)
    torch_name: str = ""  # grad_fn name stem in eager mode: "Mul" -> MulBackward0
    differentiable: bool = True

    @property
    def is_pointwise(self) -> bool:
        return self.formula is not None


REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} is declared twice")
    REGISTRY[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known ops: {sorted(REGISTRY)}") from None
