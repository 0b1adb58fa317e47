"""Eager autograd: grad mode, the tape's nodes and the backward engine.

Every node runs a generated backward graph (runtime.CompiledGraph): an eager op's node
runs its one-equation graph's backward, a compiled function's node runs the whole
graph's. So eager and compiled gradients come from the same autodiff.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

from ._state import thread as _thread
from .runtime import arrays

F = TypeVar("F", bound=Callable[..., Any])

def is_grad_enabled() -> bool:
    """This thread's grad mode (per thread, as torch's: a no_grad block in one thread
    leaves the others alone)."""
    return _thread.grad_enabled


class set_grad_enabled:
    """Context manager (and plain call) that sets grad mode, like torch's."""

    def __init__(self, mode: bool) -> None:
        self.prev = _thread.grad_enabled
        _thread.grad_enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _thread.grad_enabled = self.prev


class _GradMode:
    """A context manager and decorator that sets this thread's grad mode to `mode`:
    `with no_grad():`, `@no_grad()` and, as torch allows, `@no_grad` without the call."""

    mode = False

    def __new__(cls, fn: Any = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)  # the bare decorator: no_grad(fn)

    def __enter__(self) -> None:
        self.prev = _thread.grad_enabled
        _thread.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _thread.grad_enabled = self.prev

    def _copy(self) -> "_GradMode":
        return type(self)()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._copy():  # a fresh manager per call: calls may nest or run at once
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


class inference_mode(_GradMode):
    """torch.inference_mode(mode=True): grad off in this thread, like no_grad. (TorchTrek
    keeps no separate kind of inference tensor: what is made inside acts as a tensor
    made under no_grad.)"""

    def __new__(cls, mode: Any = True) -> Any:
        if isinstance(mode, bool):
            self = object.__new__(cls)
            self.mode = not mode
            return self
        return cls()(mode)  # the bare decorator: inference_mode(fn)

    def __enter__(self) -> None:
        super().__enter__()
        self.prev_inference = _thread.inference_mode
        _thread.inference_mode = not self.mode

    def __exit__(self, *exc: object) -> None:
        super().__exit__()
        _thread.inference_mode = self.prev_inference

    def _copy(self) -> "_GradMode":
        return inference_mode(not self.mode)


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside an inference_mode block (no_grad alone is not one)."""
    return _thread.inference_mode


# ------------------------------------------------------------------ nodes


class Node:
    """One recorded computation: `apply(cts)` returns a gradient per input edge.

    edges[i] is None (no gradient), ("leaf", tensor) or ("node", node, output_index).
    `saved` lists the tensors whose arrays are residuals (see `record_saved`), so that
    an in-place change after the forward pass is caught as torch catches it; `hooks`
    maps an output index to the hooks registered on that output tensor."""

    __slots__ = ("compiled", "residuals", "edges", "out_types", "saves_tensors", "saved",
                 "hooks", "__weakref__")

    def __init__(self, compiled: Any, residuals: tuple, edges: list, out_types: list,
                 saves_tensors: bool = True) -> None:
        self.compiled = compiled
        self.residuals: tuple | None = residuals
        self.edges = edges
        self.out_types = out_types  # (shape, numpy dtype) per forward output
        # torch frees saved tensors after backward, but not saved Python scalars
        self.saves_tensors = saves_tensors and bool(residuals)
        self.saved: list[_Saved] | None = None
        self.hooks: dict[int, dict[int, Callable]] | None = None

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
        if self.saved:
            for s in self.saved:
                s.check(self)
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


# ------------------------------------------------------------------ version counters

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


class _Saved:
    """A tensor whose array a node saved: its version counter (a one-item list shared by
    a tensor and its views), the version at save time, and how to describe it."""

    __slots__ = ("vc", "version", "index", "output", "ref", "desc")

    def __init__(self, t: Any, index: int, output: bool) -> None:
        import weakref

        self.vc = t._vc
        self.version = t._vc[0]
        self.index = index  # position in the node's residuals
        self.output = output  # the node's own output (torch: "output 0 of ExpBackward0")
        self.ref = None if output else weakref.ref(t)
        kind = ("cuda." if arrays.on_device(t._data) else "") + _TYPE_NAMES.get(
            t._dtype.name, "Tensor")
        self.desc = f"torchtrek.{kind} [{', '.join(str(d) for d in t._data.shape)}]"

    def check(self, node: Node) -> None:
        if self.vc[0] == self.version:
            return
        which = ""
        if self.output:
            which = f", which is output 0 of {_short(node.name())}"
        else:
            t = self.ref()
            if t is not None and t.grad_fn is not None:
                which = f", which is output {t._out_index} of {_short(t.grad_fn.name())}"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{self.desc}]{which}{',' if which else ''} is at version {self.vc[0]}; expected "
            f"version {self.version} instead. Hint: an in-place op (add_, mul_, x[i] = v, an "
            "optimizer step) changed it after the forward pass saved it; compute out of "
            "place, or clone() it first."
        )


def _short(name: str) -> str:
    import re

    return re.sub(r"Backward\d*$", "", name)


def _shares(r: Any, a: Any) -> bool:
    if r is a:
        return True
    return (isinstance(r, np.ndarray) and isinstance(a, np.ndarray) and r.base is not None
            and np.may_share_memory(r, a))


def record_saved(node: Node, inputs: Sequence[Any], outputs: Sequence[Any] = ()) -> None:
    """Note which of `node`'s residuals are the arrays of `inputs` or `outputs` (tensors),
    with their versions, so backward can refuse values an in-place op changed since."""
    saved = []
    for ri, r in enumerate(node.residuals or ()):
        for o in outputs:
            if o._data is not None and _shares(r, o._data):
                saved.append(_Saved(o, ri, True))
                break
        else:
            for t in inputs:
                if t._data is not None and _shares(r, t._data):
                    saved.append(_Saved(t, ri, False))
                    break
    node.saved = saved or None


def bump_version(t: Any) -> None:
    """Count an in-place write to `t` (and to every tensor sharing its memory)."""
    t._vc[0] += 1


# ------------------------------------------------------------------ hooks


class RemovableHandle:
    """What register_hook returns: `.remove()` takes the hook off (also a context
    manager, as torch's)."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        import weakref

        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1
        self._ref = weakref.ref(hooks) if _weakrefable(hooks) else (lambda: hooks)

    def remove(self) -> None:
        hooks = self._ref()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class _HookDict(dict):
    """A dict that can be weakly referenced (a handle must not keep hooks alive)."""


def _weakrefable(d: Any) -> bool:
    return isinstance(d, _HookDict)


def register_tensor_hook(t: Any, hook: Callable) -> RemovableHandle:
    """Tensor.register_hook: a leaf's hooks live on the tensor (they run before its
    gradient is accumulated), a non-leaf's on its grad_fn for its output index."""
    if t.grad_fn is None:
        if t._hooks is None:
            t._hooks = _HookDict()
        hooks = t._hooks
    else:
        node = t.grad_fn
        if node.hooks is None:
            node.hooks = {}
        hooks = node.hooks.setdefault(t._out_index, _HookDict())
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _run_hooks(hooks: dict | None, g: Any) -> Any:
    if not hooks:
        return g
    from .tensor import Tensor

    for fn in list(hooks.values()):
        new = fn(Tensor._wrap(g))
        if new is not None:
            if not isinstance(new, Tensor):
                raise TypeError(f"hook returned {type(new).__name__}; expected a Tensor or None")
            if tuple(new.shape) != tuple(g.shape):
                raise RuntimeError(
                    f"hook '{getattr(fn, '__name__', 'hook')}' has changed the size of value")
            g = new._data
    return g


# ------------------------------------------------------------------ engine


def run_backward(roots: Sequence[Any], grads: Sequence[np.ndarray], retain_graph: bool,
                 inputs: Sequence[Any] | None = None) -> list[Any] | None:
    """Propagate `grads` from `roots` (tensors). Without `inputs`, into the .grad of every
    leaf that requires grad; with `inputs` (tensors), only as far as needed to return
    their gradients (arrays or None), touching no .grad."""
    buffers: dict[Node, list[Any]] = {}
    deps: dict[Node, int] = {}
    # leaves: id -> [tensor, summed gradient, edges still to come]
    leaves: dict[int, list[Any]] = {}
    capture = inputs is not None
    captured: list[Any] = [None] * (len(inputs) if capture else 0)
    leaf_targets: dict[int, list[int]] = {}
    node_targets: dict[Node, dict[int, list[int]]] = {}
    for pos, t in enumerate(inputs or ()):
        if t.grad_fn is None:
            leaf_targets.setdefault(id(t), []).append(pos)
        else:
            node_targets.setdefault(t.grad_fn, {}).setdefault(t._out_index, []).append(pos)

    def wants_leaf(t: Any) -> bool:
        return id(t) in leaf_targets if capture else True

    def accumulate(node: Node, index: int, g: Any) -> None:
        buf = buffers.setdefault(node, [None] * len(node.out_types))
        buf[index] = g if buf[index] is None else arrays.add(buf[index], g)

    def add_leaf(t: Any, g: Any) -> None:
        entry = leaves.setdefault(id(t), [t, None, 0])
        if g is not None:
            entry[1] = g if entry[1] is None else arrays.add(entry[1], g)

    start: list[Node] = []
    for t, g in zip(roots, grads):
        if t.grad_fn is None:
            if wants_leaf(t):
                add_leaf(t, g)
            continue
        accumulate(t.grad_fn, t._out_index, g)
        start.append(t.grad_fn)
    start = list(dict.fromkeys(start))

    # Every node reachable from the roots, children before parents (post-order).
    order: list[Node] = []
    seen: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(n, False) for n in start]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for e in node.edges:
            if e is not None and e[0] == "node" and e[1] not in seen:
                stack.append((e[1], False))
    # Which nodes must run (`execute`), and which must be reached at all (`needed`).
    execute: set[Node] = set()
    needed: set[Node] = set()
    for node in order:
        run = not capture or any(
            e is not None and (e[1] in needed if e[0] == "node" else id(e[1]) in leaf_targets)
            for e in node.edges)
        if run:
            execute.add(node)
        if run or node in node_targets:
            needed.add(node)
    for node in execute:
        for e in node.edges:
            if e is None:
                continue
            if e[0] == "node":
                if e[1] in needed:
                    deps[e[1]] = deps.get(e[1], 0) + 1
            elif wants_leaf(e[1]):
                leaves.setdefault(id(e[1]), [e[1], None, 0])[2] += 1

    def finish_leaf(entry: list[Any]) -> None:
        t, g = entry[0], entry[1]
        if g is None:
            return
        g = _run_hooks(t._hooks, _as_leaf_grad(t, g))
        if capture:
            for pos in leaf_targets.get(id(t), ()):
                captured[pos] = arrays.copy(g)
        else:
            _accumulate_leaf(t, g)

    for entry in list(leaves.values()):
        if entry[2] == 0:
            finish_leaf(entry)
    ready = [n for n in start if n in needed and deps.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        cts = buffers.pop(node, [None] * len(node.out_types))
        for index, positions in node_targets.get(node, {}).items():
            for pos in positions:  # torch captures before the tensor's hooks run
                captured[pos] = cts[index]
        if node not in execute:
            continue
        if node.hooks:
            for index, hooks in node.hooks.items():
                if cts[index] is not None:
                    cts[index] = _run_hooks(hooks, cts[index])
        in_grads = node.apply(cts)
        if not retain_graph:
            node.release()
        for e, g in zip(node.edges, in_grads):
            if e is None:
                continue
            if e[0] == "leaf":
                entry = leaves.get(id(e[1]))
                if entry is None:
                    continue
                if g is not None:
                    entry[1] = g if entry[1] is None else arrays.add(entry[1], g)
                entry[2] -= 1
                if entry[2] == 0:
                    finish_leaf(entry)
                continue
            child, index = e[1], e[2]
            if child not in needed:
                continue
            if g is not None:
                accumulate(child, index, g)
            deps[child] -= 1
            if deps[child] == 0:
                ready.append(child)
    if not capture:
        _run_queued_callbacks()
    return captured if capture else None


def queue_callback(fn: Callable[[], Any]) -> None:
    """Run `fn` once the backward pass now running has written every .grad (torch's
    Variable._execution_engine.queue_callback; DistributedDataParallel's all-reduce)."""
    queue = getattr(_thread, "backward_callbacks", None)
    if queue is None:
        queue = _thread.backward_callbacks = []
    queue.append(fn)


def _run_queued_callbacks() -> None:
    queue = getattr(_thread, "backward_callbacks", None)
    while queue:
        queue.pop(0)()


def _as_leaf_grad(t: Any, g: Any) -> Any:
    if not arrays.on_device(g):
        g = np.asarray(g, dtype=t._data.dtype)
        if g.shape != t._data.shape:
            g = np.broadcast_to(g, t._data.shape)
    return g


def _accumulate_leaf(t: Any, g: Any) -> None:
    if not t.requires_grad:
        return
    from .tensor import Tensor

    g = _as_leaf_grad(t, g)
    if t.grad is None:
        # torch's layout contract: a leaf's .grad has the leaf's strides (a linear layer's
        # weight gradient arrives as a transposed product; it is stored row-major)
        row_major = getattr(t._data, "flags", None) is not None and t._data.flags.c_contiguous
        t.grad = Tensor._wrap(arrays.copy(g, "C" if row_major else "K"))
    else:
        t.grad = Tensor._wrap(arrays.add(t.grad._data, g))


def _root_grads(roots: Sequence[Any], grad_tensors: Any) -> list[Any]:
    from .tensor import Tensor

    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(roots)
    else:
        grad_tensors = list(grad_tensors)
        if len(grad_tensors) != len(roots):
            raise RuntimeError(f"got {len(roots)} tensors and {len(grad_tensors)} gradients")
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
                    f"Mismatch in shape: grad_output[{i}] has a shape of "
                    f"{_size(g_arr.shape)} and output[{i}] has a shape of "
                    f"{_size(t._data.shape)}."
                )
            if arrays.on_device(g_arr) != arrays.on_device(t._data):
                raise RuntimeError(
                    f"invalid gradient at index {i} - expected device {t.device} but got {g.device}")
            if not arrays.on_device(g_arr):
                g_arr = g_arr.astype(t._data.dtype, copy=False)
        grads.append(g_arr)
    return grads


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """torch.autograd.backward."""
    from .tensor import Tensor

    if create_graph:
        raise NotImplementedError(
            "create_graph=True is not supported yet; use tt.grad(tt.grad(f)) for higher "
            "derivatives"
        )
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    grads = _root_grads(roots, grad_tensors)
    if inputs is None:
        run_backward(roots, grads, bool(retain_graph))
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    got = run_backward(roots, grads, bool(retain_graph), inputs)
    for t, g in zip(inputs, got):  # torch accumulates into .grad of the given inputs
        if g is None:
            continue
        if t.is_leaf:
            _accumulate_leaf(t, g)
        else:
            _accumulate_nonleaf(t, g)


def _accumulate_nonleaf(t: Any, g: Any) -> None:
    from .tensor import Tensor

    t._grad = Tensor._wrap(arrays.copy(g)) if t._grad is None else Tensor._wrap(
        arrays.add(t._grad._data, g))


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """torch.autograd.grad: the gradients of `outputs` with respect to `inputs` (leaf or
    not), returned as a tuple; no .grad is touched."""
    from .tensor import Tensor

    if is_grads_batched:
        raise NotImplementedError("is_grads_batched=True is not supported")
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not ins:
        raise RuntimeError("grad requires non-empty inputs.")
    for t in roots + ins:
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor, got {type(t).__name__}")
    if isinstance(grad_outputs, Tensor) or grad_outputs is None:
        grad_outputs = [grad_outputs] * len(roots)
    if any(t._var is not None for t in roots + ins):  # inside a traced (compiled) function
        from ._traced_grad import traced_grad

        return traced_grad(roots, ins, list(grad_outputs), create_graph, bool(allow_unused),
                           materialize_grads)
    if create_graph:
        raise NotImplementedError(
            "torch.autograd.grad(..., create_graph=True) eagerly (differentiating a gradient "
            "op by op) is not supported by TorchTrek; inside a compiled function it is: "
            "torch.compile (tt.compile) the training step that computes the gradient penalty, "
            "or use tt.grad(tt.grad(f)) for higher derivatives")
    grads = _root_grads(roots, list(grad_outputs))
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    got = run_backward(roots, grads, bool(retain_graph), ins)
    result = []
    for i, (t, g) in enumerate(zip(ins, got)):
        if g is None:
            if materialize_grads:
                g = arrays.full_like_spec(t._data.shape, t._data.dtype, 0, t._data)
            elif not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used "
                    "in the graph. Set allow_unused=True if this is the desired behavior."
                )
            else:
                result.append(None)
                continue
        result.append(Tensor._wrap(g))
    return tuple(result)


# ------------------------------------------------------------------ gradcheck


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients differ (as torch's)."""


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False,
              masked: bool | None = None) -> bool:
    """torch.autograd.gradcheck: compare the Jacobian from autograd with central finite
    differences, for every output and every input that requires grad (float64 advised)."""
    import warnings

    from .tensor import Tensor

    tupled = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, t in enumerate(tupled) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of "
            "them have requires_grad=True."
        )
    for i in diff:
        if tupled[i].dtype.name != "float64":
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision "
                "floating point. ")

    def outputs_of(args: Sequence[Any]) -> list[Any]:
        out = func(*args)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        return [o for o in outs if isinstance(o, Tensor)]

    def host(a: Any) -> np.ndarray:
        from .runtime import cuda

        return np.asarray(cuda.to_host(a) if arrays.on_device(a) else a, dtype=np.float64)

    # numerical: column per input element, rows... stored as (n_in, n_out) like torch
    with no_grad():
        base_outs = outputs_of(tupled)
        numerical: dict[tuple[int, int], np.ndarray] = {}
        for i in diff:
            x = tupled[i]
            flat = host(x._data).reshape(-1)
            for o, out in enumerate(base_outs):
                numerical[(o, i)] = np.zeros((flat.size, out.numel()))
            for j in range(flat.size):
                vals = []
                for delta in (eps, -eps):
                    p = flat.copy()
                    p[j] += delta
                    arr = p.reshape(x._data.shape).astype(x._data.dtype)
                    if arrays.on_device(x._data):
                        from .runtime import cuda

                        arr = cuda.to_device(arr)
                    args = list(tupled)
                    args[i] = Tensor._wrap(arr)
                    vals.append([host(out._data).reshape(-1) for out in outputs_of(args)])
                for o in range(len(base_outs)):
                    numerical[(o, i)][j] = (vals[0][o] - vals[1][o]) / (2 * eps)
    # analytical: one autograd.grad per output element
    outs = outputs_of(tupled)
    diff_inputs = [tupled[i] for i in diff]
    for o, out in enumerate(outs):
        analytical = {i: np.zeros((tupled[i].numel(), out.numel())) for i in diff}
        if out.requires_grad and out.dtype.is_floating_point:
            for k in range(out.numel()):
                seed = np.zeros(out.numel(), dtype=out._data.dtype)
                seed[k] = 1
                seed_arr = seed.reshape(out._data.shape)
                if arrays.on_device(out._data):
                    from .runtime import cuda

                    seed_arr = cuda.to_device(seed_arr)
                gs = grad(out, diff_inputs, Tensor._wrap(seed_arr), retain_graph=True,
                          allow_unused=True)
                for i, g in zip(diff, gs):
                    if g is not None:
                        analytical[i][:, k] = host(g._data).reshape(-1)
        for i in diff:
            a, n = analytical[i], numerical[(o, i)]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {o} with respect to input {diff.index(i)},\n"
                    f"numerical:{Tensor._wrap(n)}\nanalytical:{Tensor._wrap(a)}\n"
                )
    return True


def _size(shape: Iterable[int]) -> str:
    return f"torchtrek.Size({list(shape)})"


def __getattr__(name: str) -> Any:
    if name == "Variable":  # (lazily: _legacy imports tensor, which imports this module)
        from ._legacy import Variable

        return Variable
    if name == "Function":
        from ._function import Function

        return Function
    if name == "function":
        from . import _function

        return _function
    from ._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
