"""torch.autograd.Function: user-written forward/backward pairs.

Eagerly, `apply` runs `forward` without recording and gives the outputs a tape node whose
backward calls the user's `backward` (grad mode off, as torch runs it). Inside a traced
function (tt.compile, torch.compile(model), a compiled training step) the user's backward is
traced too, and spliced into autodiff through a `custom_vjp` op (see ir/ops/core.py): the
compiled gradient is the user's, not the derivative of their forward."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd
from ._dispatch import edge_of
from .tensor import Tensor
from .tracer import current_trace


class FunctionCtx:
    """The `ctx` forward and backward share."""

    def __init__(self) -> None:
        self.to_save: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.non_differentiable: set[int] = set()
        self.dirty: tuple = ()
        self.materialize_grads = True
        self._saved_released = False

    def save_for_backward(self, *tensors: Any) -> None:
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._saved_released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")
        return self.to_save

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self.non_differentiable |= {id(t) for t in tensors}

    def mark_dirty(self, *tensors: Any) -> None:
        self.dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class _FunctionNode(autograd.Node):
    """The tape node of one Function.apply: its backward is the user's."""

    __slots__ = ("fn_cls", "ctx", "n_inputs", "input_pos")

    def name(self) -> str:
        return self.fn_cls.__name__ + "Backward"

    def apply(self, cts: list[np.ndarray | None]) -> list[Any]:
        if self.ctx is None:
            raise RuntimeError("Trying to backward through the graph a second time; specify "
                               "retain_graph=True")
        grads_in = []
        for c, (shape, dtype) in zip(cts, self.out_types):
            if c is None and self.ctx.materialize_grads:
                c = np.zeros(shape, dtype)
            grads_in.append(None if c is None else Tensor._wrap(c))
        with autograd.no_grad():
            got = self.fn_cls.backward(self.ctx, *grads_in)
        got = got if isinstance(got, tuple) else (got,)
        if len(got) < self.n_inputs:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                               f"gradients (expected {self.n_inputs}, got {len(got)})")
        out = []
        for pos in self.input_pos:
            g = got[pos]
            out.append(None if g is None else g._concrete("backward") if isinstance(g, Tensor)
                       else np.asarray(g))
        return out

    def release(self) -> None:
        if self.ctx is not None:
            self.ctx._saved_released = True
        self.ctx = None


_NODE_CLASSES: dict[type, type] = {}


def _node_class(cls: type) -> type:
    """ExpBackward for class Exp, as torch names a Function's node."""
    node = _NODE_CLASSES.get(cls)
    if node is None:
        node = _NODE_CLASSES[cls] = type(cls.__name__ + "Backward", (_FunctionNode,),
                                         {"__slots__": ()})
    return node


class _Meta(type):
    pass


class Function(metaclass=_Meta):
    """Subclass with `forward(ctx, *args)` (or `forward(*args)` plus `setup_context(ctx,
    inputs, output)`) and `backward(ctx, *grad_outputs)`; call `YourFunction.apply(...)`."""

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: https://pytorch.org/docs/stable/"
                           "autograd.html#torch.autograd.Function)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        separate = cls.setup_context is not Function.setup_context
        if current_trace() is not None:
            from ._function_traced import apply_traced

            return apply_traced(cls, ctx, args, kwargs, separate)
        with autograd.no_grad():
            out = cls.forward(*args, **kwargs) if separate else cls.forward(ctx, *args, **kwargs)
        if separate:
            cls.setup_context(ctx, args, out)
        if not (autograd.is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        outs = out if isinstance(out, tuple) else (out,)
        tensors = [o for o in outs if isinstance(o, Tensor)]
        input_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        edges = [edge_of(args[i]) for i in input_pos]
        node = _node_class(cls)(None, (), edges,
                             [(tuple(o.shape), o._concrete("forward").dtype) for o in tensors])
        node.fn_cls, node.ctx, node.n_inputs, node.input_pos = cls, ctx, len(args), input_pos
        wrapped = []
        k = 0
        for o in outs:
            if isinstance(o, Tensor):
                if id(o) not in ctx.non_differentiable and o.dtype.is_floating_point:
                    if any(o is a for a in args):  # returned an input: a new view of it
                        o = o.view_as(o)
                        o._out_index = None
                    o.requires_grad = True
                    o.grad_fn = node
                    o._out_index = k
                k += 1
            wrapped.append(o)
        return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]


class InplaceFunction(Function):
    pass


class NestedIOFunction(Function):
    pass


def once_differentiable(fn: Any) -> Any:
    return fn


__all__ = ["Function", "FunctionCtx", "InplaceFunction", "NestedIOFunction", "once_differentiable"]
