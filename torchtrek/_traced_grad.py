"""torch.autograd.grad inside a traced function: the gradient is built by reverse-mode autodiff
into the trace itself, so with create_graph=True it is an ordinary traced value that later ops
(a gradient penalty) and a later backward() differentiate through."""

from __future__ import annotations

from typing import Any, Sequence

from .ir.autodiff import backprop
from .ir.graph import Var
from .tracer import current_trace


def traced_grad(outputs: Sequence[Any], inputs: Sequence[Any], grad_outputs: Sequence[Any],
                create_graph: bool, allow_unused: bool, materialize: bool) -> tuple:
    from .tensor import Tensor

    ctx = current_trace()

    def var_of(t: Any) -> Var | None:
        if t._trace is ctx:
            return t._var
        return ctx._captured_ids.get(id(t))  # a real tensor the function read (a parameter)

    targets = [var_of(t) for t in inputs]
    for t, v in zip(inputs, targets):
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    # the values that depend on a target, in one pass over the recorded equations
    active = {v for v in targets if v is not None and v.dtype.is_floating_point}
    for e in ctx.builder.eqns:
        if any(isinstance(i, Var) and i in active for i in e.inputs):
            active.update(o for o in e.outputs if o.dtype.is_floating_point)
    seeds: dict[Var, Any] = {}
    for o, g in zip(outputs, grad_outputs):
        ov = var_of(o)
        if ov is None or not o.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            seed = ctx.record("full", [], {"shape": tuple(o.shape), "value": 1, "dtype": o.dtype},
                              "grad_" + ov.hint)
        else:
            seed = g._var if g._trace is ctx else ctx.capture(g, g._type(), "grad_output")
        seeds[ov] = seed if ov not in seeds else ctx.record("add", [seeds[ov], seed], {})
    cts = backprop(ctx.builder, list(ctx.builder.eqns), seeds, active)
    result = []
    for i, (t, v) in enumerate(zip(inputs, targets)):
        g = cts.get(v) if v is not None else None
        if g is None:
            if materialize:
                g = ctx.record("full", [], {"shape": tuple(t.shape), "value": 0,
                                            "dtype": t.dtype}, "grad")
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            else:
                result.append(None)
                continue
        if not create_graph:  # a value, not a differentiable function of the inputs
            g = ctx.record("detach", [g], {}, g.hint if isinstance(g, Var) else "grad")
        result.append(Tensor._symbolic(g, ctx, bool(create_graph)))
    return tuple(result)
