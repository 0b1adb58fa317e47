"""Eager autograd: grad mode, the tape's nodes and the backward engine.

Every node runs a generated backward graph (runtime.CompiledGraph): an eager op's node
runs its one-equation graph's backward, a compiled function's node runs the whole
graph's. So eager and compiled gradients come from the same autodiff.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

from .runtime import arrays

F = TypeVar("F", bound=Callable[..., Any])

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class set_grad_enabled:
    """Context manager (and plain call) that sets grad mode, like torch's."""

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        self.prev = _grad_enabled
        _grad_enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.prev


class _GradMode:
    mode = False

    def __enter__(self) -> None:
        global _grad_enabled
        self.prev = _grad_enabled
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


# ------------------------------------------------------------------ nodes


class Node:
    """One recorded computation: `apply(cts)` returns a gradient per input edge.

    edges[i] is None (no gradient), ("leaf", tensor) or ("node", node, output_index)."""

    __slots__ = ("compiled", "residuals", "edges", "out_types", "saves_tensors", "__weakref__")

    def __init__(self, compiled: Any, residuals: tuple, edges: list, out_types: list,
                 saves_tensors: bool = True) -> None:
        self.compiled = compiled
        self.residuals: tuple | None = residuals
        self.edges = edges
        self.out_types = out_types  # (shape, numpy dtype) per forward output
        # torch frees saved tensors after backward, but not saved Python scalars
        self.saves_tensors = saves_tensors and bool(residuals)

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        return tuple((e[1], e[2]) if e and e[0] == "node" else (None, 0) for e in self.edges)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def apply(self, cts: list[np.ndarray | None]) -> list[np.ndarray]:
        if self.residuals is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Saved intermediate "
                "values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through "
                "the graph a second time or if you need to access saved tensors after "
                "calling backward."
            )
        full = []
        like = next((c for c in cts if c is not None), None)
        for i in self.compiled.ct_outputs:
            c = cts[i]
            shape, dtype = self.out_types[i]
            full.append(arrays.full_like_spec(shape, dtype, 0, like) if c is None else c)
        return self.compiled.run_backward(self.residuals, full)

    def release(self) -> None:
        if self.saves_tensors:  # a node that saved no tensor can run again, as in torch
            self.residuals = None


class MoveNode(Node):
    """Backward of a device move: the gradient moves back (ToCopyBackward0)."""

    __slots__ = ("to_device",)

    def __init__(self, to_device: bool, edges: list, out_types: list) -> None:
        super().__init__(None, (), edges, out_types, saves_tensors=False)
        self.to_device = to_device  # where the gradient goes: the source's device

    def name(self) -> str:
        return "ToCopyBackward0"

    def apply(self, cts: list[Any]) -> list[Any]:
        from .runtime import cuda

        (c,) = cts
        if c is None:
            shape, dtype = self.out_types[0]
            c = np.zeros(shape, dtype)
        if self.to_device:
            return [c if arrays.on_device(c) else cuda.to_device(np.asarray(c))]
        return [cuda.to_host(c) if arrays.on_device(c) else c]


_NODE_CLASSES: dict[str, type] = {}


def node_class(name: str) -> type:
    """Node subclasses named like torch's (MulBackward0), so type(t.grad_fn).__name__
    and repr match."""
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        cls = _NODE_CLASSES[name] = type(name, (Node,), {"__slots__": ()})
    return cls


# ------------------------------------------------------------------ engine


def run_backward(roots: Sequence[Any], grads: Sequence[np.ndarray], retain_graph: bool) -> None:
    """Propagate `grads` from `roots` (tensors) to every leaf that requires grad."""
    buffers: dict[Node, list[np.ndarray | None]] = {}
    deps: dict[Node, int] = {}
    start: list[Node] = []

    def accumulate(node: Node, index: int, g: np.ndarray) -> None:
        buf = buffers.setdefault(node, [None] * len(node.out_types))
        buf[index] = g if buf[index] is None else buf[index] + g

    for t, g in zip(roots, grads):
        if t.grad_fn is None:
            _accumulate_leaf(t, g)
            continue
        accumulate(t.grad_fn, t._out_index, g)
        start.append(t.grad_fn)
    # Count, for every reachable node, how many edges lead into it.
    seen: set[Node] = set()
    stack = list(dict.fromkeys(start))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for e in node.edges:
            if e is not None and e[0] == "node":
                deps[e[1]] = deps.get(e[1], 0) + 1
                stack.append(e[1])
    ready = [n for n in dict.fromkeys(start) if deps.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        cts = buffers.pop(node, [None] * len(node.out_types))
        in_grads = node.apply(cts)
        if not retain_graph:
            node.release()
        for e, g in zip(node.edges, in_grads):
            if e is None:
                continue
            if e[0] == "leaf":
                _accumulate_leaf(e[1], g)
                continue
            child, index = e[1], e[2]
            accumulate(child, index, g)
            deps[child] -= 1
            if deps[child] == 0:
                ready.append(child)


def _accumulate_leaf(t: Any, g: Any) -> None:
    if not t.requires_grad:
        return
    from .tensor import Tensor

    if not arrays.on_device(g):
        g = np.asarray(g, dtype=t._data.dtype)
        if g.shape != t._data.shape:
            g = np.broadcast_to(g, t._data.shape)
    if t.grad is None:
        t.grad = Tensor._wrap(arrays.copy(g))
    else:
        t.grad = Tensor._wrap(arrays.add(t.grad._data, g))


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None) -> None:
    """torch.autograd.backward."""
    from .tensor import Tensor

    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(roots)
    grads = []
    for i, (t, g) in enumerate(zip(roots, grad_tensors)):
        if not t.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g_arr = arrays.full_like_spec(t._data.shape, t._data.dtype, 1, t._data)
        else:
            g_arr = g._data if isinstance(g, Tensor) else np.asarray(g)
            if g_arr.shape != t._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of {_size(g_arr.shape)} and "
                    f"output[0] has a shape of {_size(t._data.shape)}."
                )
            if arrays.on_device(g_arr) != arrays.on_device(t._data):
                raise RuntimeError(
                    f"invalid gradient at index {i} - expected device {t.device} but got {g.device}")
            if not arrays.on_device(g_arr):
                g_arr = g_arr.astype(t._data.dtype, copy=False)
        grads.append(g_arr)
    run_backward(roots, grads, bool(retain_graph))


def _size(shape: Iterable[int]) -> str:
    return f"torchtrek.Size({list(shape)})"
