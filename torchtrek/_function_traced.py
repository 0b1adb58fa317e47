"""autograd.Function inside a trace: the forward is traced on detached inputs, the user's
backward is traced into a graph of its own (cotangents in, input gradients out), and each
output passes through a `custom_vjp` op that autodiff replaces by that graph."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from . import autograd
from ._dispatch import bind
from .ir.graph import Eqn, Var
from .ir.ops.core import CUSTOM_VJPS
from .tensor import Tensor
from .tracer import TraceContext, current_trace, tracing

_ids = itertools.count(1)


@dataclass
class _Rule:
    ct_vars: list[Var]  # one cotangent input per forward output
    slot_vars: list[Var]  # values the backward reads from outside it
    eqns: list[Eqn]
    grads: list[Any]  # per differentiated input: a Var of the graph, or None


def apply_traced(cls: type, ctx: Any, args: tuple, kwargs: dict, separate: bool) -> Any:
    outer = current_trace()
    wants = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    detached = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
    with autograd.no_grad():
        out = cls.forward(*detached, **kwargs) if separate else cls.forward(ctx, *detached, **kwargs)
    if separate:
        cls.setup_context(ctx, detached, out)
    if not (wants and autograd.is_grad_enabled()):
        return out
    outs = out if isinstance(out, tuple) else (out,)
    diff = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.dtype.is_floating_point
            and id(o) not in ctx.non_differentiable]
    if not diff:
        return out
    rule, captured = _trace_backward(cls, ctx, outs, wants, len(args), outer)
    rule_id = next(_ids)
    CUSTOM_VJPS[rule_id] = rule
    operands = [args[i] for i in wants] + captured
    result = list(outs)
    tensor_pos = [k for k, o in enumerate(outs) if isinstance(o, Tensor)]
    for k in diff:
        result[k] = bind("custom_vjp", [outs[k], *operands],
                         {"rule": rule_id, "out": tensor_pos.index(k), "n_x": len(wants)})
    return tuple(result) if isinstance(out, tuple) else result[0]


def _trace_backward(cls: type, ctx: Any, outs: tuple, wants: list[int], n_args: int,
                    outer: TraceContext) -> tuple[_Rule, list[Any]]:
    sub = TraceContext(cls.__name__ + "_backward")
    with tracing(sub):
        # a cotangent per tensor output (zeros for the ones without a gradient), None for
        # the others, as torch calls backward
        cts = [Tensor._symbolic(sub.new_input(o._type(), "grad_" + o._hint), sub, False)
               for o in outs if isinstance(o, Tensor)]
        it = iter(cts)
        args = [next(it) if isinstance(o, Tensor) else None for o in outs]
        with autograd.no_grad():
            got = cls.backward(ctx, *args)
        got = got if isinstance(got, tuple) else (got,)
        if len(got) < n_args:
            raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of "
                               f"gradients (expected {n_args}, got {len(got)})")
        grads = []
        for i in wants:
            g = got[i]
            if g is None:
                grads.append(None)
                continue
            if not isinstance(g, Tensor) or g._trace is not sub:  # (an outside tensor as is)
                g = bind("detach", [g if isinstance(g, Tensor) else Tensor._wrap(g)])
            grads.append(g._var)
    # what the backward read from outside: the forward's values (or real tensors)
    captured = []
    for t, _slot in sub.captured:
        captured.append(t if t._trace is outer or t._var is None else t)
    rule = _Rule([c._var for c in cts], [slot for _, slot in sub.captured],
                 list(sub.builder.eqns), grads)
    return rule, captured
