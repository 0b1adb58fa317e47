"""Appends equations with shape inference; used by the tracer, autodiff and passes."""

from __future__ import annotations

from typing import Any, Sequence

from .graph import Atom, Eqn, SourceLoc, TensorType, Var, freeze_attrs
from .symdims import has_sympy, plain
from .symint import unwrap
from .opdef import get_op


class Builder:
    def __init__(self, loc: SourceLoc | None = None) -> None:
        self.eqns: list[Eqn] = []
        self.loc = loc  # default source location for emitted equations

    def emit(
        self,
        op: str,
        inputs: Sequence[Atom],
        *,
        hint: str | None = None,
        loc: SourceLoc | None = None,
        **attrs: Any,
    ) -> Var:
        """Append `op(inputs)` and return its (single) result."""
        return self.emit_multi(op, inputs, hint=hint, loc=loc, **attrs)[0]

    def emit_multi(
        self,
        op: str,
        inputs: Sequence[Atom],
        *,
        hint: str | None = None,
        loc: SourceLoc | None = None,
        **attrs: Any,
    ) -> tuple[Var, ...]:
        opdef = get_op(op)
        for k, v in attrs.items():  # (only a shape-generic trace has sympy sizes here)
            if k != "expr":
                v = attrs[k] = unwrap(v)  # a SymInt a user passed (x.expand(y.shape)): its expression
                if has_sympy(v):
                    attrs[k] = plain(v)
        types = opdef.infer([i.type for i in inputs], attrs)
        types = [TensorType(plain(t.shape), t.dtype) if has_sympy(t.shape) else t for t in types]
        outs = tuple(Var(t, hint or op) for t in types)
        self.eqns.append(Eqn(op, tuple(inputs), outs, freeze_attrs(attrs), loc or self.loc))
        return outs
