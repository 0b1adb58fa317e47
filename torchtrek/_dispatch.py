"""`bind`: the one door every op goes through.

Under an active trace the op is recorded into the trace's graph. Otherwise it runs
eagerly: a one-equation graph is compiled (once per op, attrs and operand types, then
cached) by the same autodiff and code generator as compiled functions, and a tape node
is recorded when gradients are needed.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

import numpy as np

from . import autograd
from ._state import thread as _thread
from .ir.graph import Graph, Literal, TensorType, Var, freeze_attrs
from .ir.opdef import get_op
from .ir.shapes import DimIndexError, ShapeError
from .runtime import fpstate
from .runtime.compiled import CompiledGraph
from .tracer import current_trace, user_location

_EAGER: dict[tuple, CompiledGraph] = {}


def _with_location(err: Exception) -> Exception:
    loc = user_location()
    if loc is None:
        return err
    msg = f"{err.args[0] if err.args else err}\n  (in {loc})"
    new = type(err)(msg)
    return new


_TENSOR: Any = None
_F: Any = None  # torchtrek.functional, resolved with Tensor


def _tensor_cls() -> Any:
    global _TENSOR, _F
    if _TENSOR is None:  # tensor.py imports this module: resolve once, at first use
        from . import functional
        from .tensor import Tensor

        _TENSOR = Tensor
        _F = functional
    return _TENSOR


def bind(op: str, operands: Sequence[Any], attrs: dict[str, Any] | None = None,
         hint: str | None = None, loc: Any = None, grad_name: str | None = None) -> Any:
    """Apply `op` to tensors and Literals; returns a Tensor. `grad_name` names the eager
    tape node where torch's differs from the op's (MeanBackward0 for a mean's divide)."""
    if not attrs and len(operands) == 1 and not _thread.trace_stack:
        out = fast_unary(op, operands[0])
        if out is not None:
            return out
    attrs = attrs or {}
    ctx = current_trace()
    try:
        if ctx is not None:
            return _record(ctx, op, operands, attrs, hint, loc)
        return _eager(op, operands, attrs, grad_name)
    except (ShapeError, DimIndexError) as err:
        if "\n  (in " in str(err):
            raise
        raise _with_location(err) from None


def bind_multi(op: str, operands: Sequence[Any], attrs: dict[str, Any] | None = None,
               hint: str | None = None, write_back: Sequence[tuple[int, int]] = ()
               ) -> tuple[Any, ...]:
    """Every result of a multi-output op, none of them differentiated: the kernels inside
    an autograd.Function's forward or backward (an RNN cell's fused gates), whose gradient
    is the Function's own.

    `write_back`: (output k, operand j) pairs the caller is about to copy into operand j (an
    optimizer's parameter and state). Eagerly, where the kernel can compute output k over
    operand j's own array (the C backend's optimizer kernels) and that array is a plain
    contiguous host array no other operand shares, output k comes back as operand j itself,
    already written, its version bumped: the caller then skips the copy."""
    attrs = attrs or {}
    if _thread.grad_enabled and any(getattr(o, "requires_grad", False) for o in operands):
        raise RuntimeError(f"op {op!r} has no derivative of its own: call it with gradients "
                           f"off (inside an autograd.Function)")
    ctx = current_trace()
    Tensor = _tensor_cls()
    if ctx is not None:
        return tuple(Tensor._symbolic(v, ctx, False)
                     for v in ctx.record_multi(op, _atoms(ctx, operands), attrs, hint))
    backend = _device_of(operands)
    arrays = [o._data for o in operands]
    wb = tuple(write_back) if write_back and _own_arrays(arrays, write_back) else ()
    key = (op, "multi", freeze_attrs(attrs) if attrs else (),
           tuple((o._data.shape, o._dtype) for o in operands), backend, wb)
    cg = _EAGER.get(key)
    if cg is None:
        cg = _EAGER[key] = _compile_multi(op, operands, attrs, backend, wb)
    outs, _ = cg.run(arrays)
    results = [Tensor._wrap(a) for a in outs]
    for k, j in wb:
        if outs[k] is arrays[j]:  # written in place (the generator may have declined)
            autograd.bump_version(operands[j])
            results[k] = operands[j]
    return tuple(results)


def _own_arrays(arrays: list[Any], write_back: Sequence[tuple[int, int]]) -> bool:
    """May the kernel write into these operands' arrays: each a writable, C-contiguous host
    array sharing no memory with any other operand's?"""
    for _, j in write_back:
        a = arrays[j]
        if type(a) is not np.ndarray or not (a.flags.c_contiguous and a.flags.writeable):
            return False
        for i, b in enumerate(arrays):
            # (two arrays that each own their memory, base None, cannot overlap: only a
            # view needs the bounds check)
            if (i != j and type(b) is np.ndarray and (a.base is not None or b.base is not None
                                                      or a is b) and np.may_share_memory(a, b)):
                return False
    return True


def _atoms(ctx: Any, operands: Sequence[Any]) -> list[Any]:
    """The trace's atoms for `operands`: literals as themselves (a Const as a plain
    Literal), the trace's own tensors as their values, other tensors captured."""
    atoms = []
    for o in operands:
        if isinstance(o, Literal):
            atoms.append(Literal(o.value, o.dtype) if isinstance(o, Const) else o)
        elif o._trace is ctx:
            atoms.append(o._var)
        else:
            atoms.append(ctx.capture(o, o._type(), o._hint))
    return atoms


def _record(ctx: Any, op: str, operands: Sequence[Any], attrs: dict[str, Any],
            hint: str | None, loc: Any) -> Any:
    from .tensor import Tensor

    requires_grad = any(o.requires_grad for o in operands if not isinstance(o, Literal))
    v = ctx.record(op, _atoms(ctx, operands), attrs, hint, loc)
    if requires_grad and not autograd.is_grad_enabled() and v.dtype.is_floating_point:
        # no_grad inside a traced function: the graph must not differentiate through it
        v = ctx.record("detach", [v], {}, v.hint, loc)
        requires_grad = False
    requires_grad = requires_grad and get_op(op).differentiable and v.dtype.is_floating_point
    return Tensor._symbolic(v, ctx, requires_grad)


_SCALARS: dict[tuple, np.ndarray] = {}  # Python scalar operands as 0-d arrays, reused


def _scalar_array(value: Any, dtype: Any) -> np.ndarray:
    key = (type(value), value, dtype.name)
    a = _SCALARS.get(key)
    if a is None:
        if len(_SCALARS) > 4096:
            _SCALARS.clear()
        a = _SCALARS[key] = np.asarray(value, dtype=dtype.name)
        a.flags.writeable = False
    return a


_DEVICE_SCALARS: dict[int, Any] = {}  # id(host 0-d array) -> (host, its device copy)


def _device_scalar(host: np.ndarray) -> Any:
    """The device copy of a cached host scalar, uploaded once (a copy to the GPU per
    `x * 2` would cost more than the kernel)."""
    hit = _DEVICE_SCALARS.get(id(host))
    if hit is None or hit[0] is not host:
        if len(_DEVICE_SCALARS) > 4096:
            _DEVICE_SCALARS.clear()
        hit = _DEVICE_SCALARS[id(host)] = (host, _cuda().to_device(host))
    return hit[1]


def _eager(op: str, operands: Sequence[Any], attrs: dict[str, Any],
           grad_name: str | None = None) -> Any:
    Tensor = _tensor_cls()
    arrays = []
    key_parts: list[Any] = []
    grad_on = _thread.grad_enabled
    wrt = []
    backend = _device_of(operands)
    if backend == "cuda":
        operands = [_to_cuda_scalar(o) for o in operands]
    for o in operands:
        if isinstance(o, Const):
            key_parts.append(o)  # baked into the kernel (its value is part of the key)
            wrt.append(False)
        elif isinstance(o, Literal):
            # a user's Python scalar: a kernel argument, so new values reuse the kernel
            host = _scalar_array(o.value, o.dtype)
            arrays.append(host if backend == "numpy" else _device_scalar(host))
            key_parts.append(o.dtype)
            wrt.append(False)
        else:
            if o._data is None:
                raise RuntimeError(
                    "a symbolic tensor from a finished trace was used outside it; return it "
                    "from the traced function instead"
                )
            arrays.append(o._data)
            key_parts.append((o._data.shape, o._dtype))
            wrt.append(grad_on and o.requires_grad)
    cg = _single(op, operands, attrs, key_parts, wrt, backend)
    outs, residuals = cg.run(arrays)
    out = Tensor._wrap(outs[0])
    _share_version(out, operands)
    if any(wrt) and cg.ct_outputs:
        tensors = [o for o in operands if not isinstance(o, Const)]
        edges = [_edge(tensors[i]) for i in cg.wrt_indices]
        name = grad_name or (get_op(op).torch_name or op.capitalize()) + "Backward0"
        node = autograd.node_class(name)(cg, residuals, edges,
                                         [(out._data.shape, out._data.dtype)])
        out.requires_grad = True
        out.grad_fn = node
        out._out_index = 0
        if residuals:
            autograd.record_saved(node, [o for o in tensors if not isinstance(o, Literal)],
                                  [out])
    return out


# ------------------------------------------------------------------ eager fast path
# A binary arithmetic op on CPU tensors that need no gradient, outside a trace, with
# tensors of the result's (floating) dtype: what the general path decides (result type,
# operand literals, the eager key) depends only on the operands' dtypes, shapes and
# scalar kinds, so it is decided once per such signature and kept as a plan: the op's
# generated function and how to pass its operands. The same generated code runs; only
# the Python around it is skipped (an eager `x * 2` 7.4 -> ~2.5 us).
_FAST: dict[tuple, Any] = {}
_NO_PLAN = ()


def fast_binary(op: str, a: Any, b: Any, float_result: bool = False) -> Any:
    """The result of `op(a, b)` through its plan, or None when the general path must
    decide (a trace, gradients, a cast, a GPU tensor, a new signature it plans first)."""
    Tensor = _TENSOR
    if Tensor is None or _thread.trace_stack:
        return None
    grad_on = _thread.grad_enabled
    # the common case, CPU tensors and Python scalars, without building lists (an eager
    # op's whole cost is a few µs: each allocation here is a tenth of it)
    ta, tb = type(a), type(b)
    # (a Python scalar goes in as it is: NumPy 2 treats it as weak, so it takes the
    # tensor's dtype, as the 0-d array of the general path does; the plan requires the
    # tensors to have the result's dtype)
    if ta is Tensor:
        if a._var is not None or (grad_on and a.requires_grad):
            return None
        da = a._data
        if type(da) is not np.ndarray:
            return _fast_binary_any(op, a, b, float_result, grad_on)
        ka: Any = (a._dtype, da.shape)
    elif ta is float or ta is int:
        da, ka = a, ta
    else:
        return None
    if tb is Tensor:
        if b._var is not None or (grad_on and b.requires_grad):
            return None
        db = b._data
        if type(db) is not np.ndarray:
            return _fast_binary_any(op, a, b, float_result, grad_on)
        kb: Any = (b._dtype, db.shape)
    elif tb is float or tb is int:
        db, kb = b, tb
    else:
        return None
    if ta is not Tensor and tb is not Tensor:
        return None
    key = (op, float_result, ka, kb, _F._default_dtype)
    plan = _FAST.get(key)
    if plan is None:
        plan = _remember(key, _plan_binary, op, a, b, float_result)
    if plan is _NO_PLAN:
        return None
    # (_run_plan's CPU case, inlined: its call is 0.15 us of a 2.3 us op)
    fn, out_dtype = plan
    token = fpstate.quiet()
    try:
        out = fn(da, db)[0]
    finally:
        fpstate.restore(token)
    if type(out) is not np.ndarray:
        out = np.asarray(out)  # (NumPy gives 0-d results as scalars)
    if out is da or out is db:  # (x * 1: the general path aliases)
        return None
    t = object.__new__(Tensor)
    t._init(out, out_dtype)
    return t


def _fast_binary_any(op: str, a: Any, b: Any, float_result: bool, grad_on: bool) -> Any:
    """fast_binary for any operands (GPU ones included)."""
    Tensor = _TENSOR
    parts = []
    for x in (a, b):
        tx = type(x)
        if tx is Tensor:
            if x._var is not None or (grad_on and x.requires_grad):
                return None
            if type(x._data) is not np.ndarray:
                if type(x._data) is not _device_array_type():
                    return None
                parts.append((x._dtype, x._data.shape, "cuda"))
                continue
            parts.append((x._dtype, x._data.shape))
        elif tx is float or tx is int:
            parts.append(tx)
        else:
            return None
    on_gpu = [type(p) is tuple and len(p) == 3 for p in parts]
    if on_gpu[0] != on_gpu[1]:  # a GPU tensor with a scalar or a CPU tensor: general path
        return None
    key = (op, float_result, parts[0], parts[1], _F._default_dtype)
    plan = _FAST.get(key)
    if plan is None:
        plan = _remember(key, _plan_binary, op, a, b, float_result)
    return _run_plan(plan, a._data if type(a) is Tensor else a, b._data if type(b) is Tensor else b)


def fast_unary(op: str, x: Any) -> Any:
    """A pointwise op of one CPU tensor that needs no gradient, through its plan (as
    fast_binary), or None for the general path."""
    if (type(x) is not _TENSOR or x._var is not None or (_thread.grad_enabled and x.requires_grad)
            or type(x._data) is not np.ndarray and type(x._data) is not _device_array_type()):
        return None
    key = (op, x._dtype, x._data.shape, type(x._data) is not np.ndarray)
    plan = _FAST.get(key)
    if plan is None:
        plan = _remember(key, _plan_unary, op, x)
    return _run_plan(plan, x._data)


def _remember(key: tuple, make: Any, *args: Any) -> Any:
    """The plan `make(*args)` gives, kept under `key`; any error means no plan (the
    general path raises it again, with the user's line)."""
    try:
        plan = make(*args)
    except Exception:
        plan = _NO_PLAN
    if len(_FAST) > 4096:
        _FAST.clear()
    _FAST[key] = plan
    return plan


def _run_plan(plan: Any, *args: Any) -> Any:
    """A new tensor from the plan's generated function on `args`, or None (no plan, or
    the formula returned an operand itself, x * 1, which the general path aliases)."""
    if plan is _NO_PLAN:
        return None
    fn, out_dtype = plan
    if type(args[0]) is not np.ndarray and type(args[0]) is _device_array_type():
        out = fn(*args)[0]  # a GPU kernel (planned for GPU operands only)
    else:
        token = fpstate.quiet()
        try:
            out = fn(*args)[0]
        finally:
            fpstate.restore(token)
        if type(out) is not np.ndarray:
            out = np.asarray(out)  # (NumPy gives 0-d results as scalars)
    if out is args[0] or out is args[-1]:  # (one or two operands)
        return None
    t = object.__new__(_TENSOR)
    t._init(out, out_dtype)
    return t


_NOT_LOADED = type("_NotLoaded", (), {})


def _device_array_type() -> type:
    """pycuda's GPUArray once pycuda is loaded (before that no tensor can hold one)."""
    mod = sys.modules.get("pycuda.gpuarray")
    return mod.GPUArray if mod is not None else _NOT_LOADED


def _backend_of(*tensors: Any) -> str:
    return "numpy" if all(type(t._data) is np.ndarray for t in tensors) else "cuda"


def _plan_unary(op: str, x: Any) -> Any:
    if not get_op(op).is_pointwise:
        return _NO_PLAN
    cg = _single(op, [x], {}, [(x._data.shape, x._dtype)], [False], _backend_of(x))
    return (cg.forward_fn, cg.graph.outputs[0].dtype)


def _plan_binary(op: str, a: Any, b: Any, float_result: bool) -> Any:
    Tensor = _TENSOR
    dtype = _F.result_type(a, b)
    if float_result and not dtype.is_floating_point:
        return _NO_PLAN
    if not dtype.is_floating_point or any(type(x) is Tensor and x._dtype is not dtype for x in (a, b)):
        return _NO_PLAN  # bool results take other ops; a cast is a second op
    if dtype.name == "float16" and any(type(x) is not Tensor for x in (a, b)):
        return _NO_PLAN  # a scalar with a half tensor is computed in float (functional._binary)
    operands = [x if type(x) is Tensor else Literal(float(x), dtype) for x in (a, b)]
    key_parts = [(x._data.shape, x._dtype) if type(x) is Tensor else dtype for x in (a, b)]
    backend = _backend_of(*(x for x in (a, b) if type(x) is Tensor))
    cg = _single(op, operands, {}, key_parts, [False, False], backend)
    if cg.n_outputs != 1:
        return _NO_PLAN
    return (cg.forward_fn, dtype)


def _single(op: str, operands: Sequence[Any], attrs: dict[str, Any], key_parts: Sequence[Any],
            wrt: Sequence[bool], backend: str) -> CompiledGraph:
    """The compiled graph of one eager op, made once per key: the op, its attributes,
    each operand's (shape, dtype) (or a scalar's dtype, or a Const), what is differentiated."""
    key = (op, freeze_attrs(attrs) if attrs else (), tuple(key_parts), tuple(wrt), backend)
    cg = _EAGER.get(key)
    if cg is None:
        cg = _EAGER[key] = _compile_single(op, operands, attrs, wrt, backend)
    return cg


def _share_version(out: Any, operands: Sequence[Any]) -> None:
    """An output over an operand's memory (a view: reshape, slice, transpose) shares its
    version counter and records its base, as torch's views do."""
    a = out._data
    if not isinstance(a, np.ndarray):
        return
    for o in operands:
        if isinstance(o, Literal):
            continue
        b = o._data
        if a is b or (a.base is not None and isinstance(b, np.ndarray)
                      and np.may_share_memory(a, b)):
            out._vc = o._vc
            out._base = o._base if o._base is not None else o
            return


class Const(Literal):
    """A constant the front end adds (mean's element count, say): baked into eager
    kernels, so gradients through it save nothing, as torch's fused ops do."""

    __slots__ = ()


def on_device_of(t: Any, like: Any) -> Any:
    """An operand-less op's eager result (a mask, a range) moved to `like`'s GPU, so it
    joins `like` in the next op (in a trace both are already nodes of one graph)."""
    if t._var is None and like._var is None and like.is_cuda and not t.is_cuda:
        return t.to(like.device)
    return t


def _edge(t: Any) -> tuple | None:
    if not t.requires_grad:
        return None
    if t.grad_fn is None:
        return ("leaf", t)
    return ("node", t.grad_fn, t._out_index)


def _cuda() -> Any:
    from .runtime import cuda

    return cuda


def _device_of(operands: Sequence[Any]) -> str:
    """'cuda' if any operand lives on the GPU; all must agree (0-d CPU tensors may join
    a GPU op, as in torch)."""
    from .runtime.arrays import on_device

    if all(isinstance(o, Literal) or type(o._data) is np.ndarray for o in operands):
        return "numpy"  # the common case, decided without a set
    devices = {("cuda" if on_device(o._data) else "cpu") for o in operands
               if not isinstance(o, Literal) and o._data is not None}
    if len(devices) <= 1:
        return "cuda" if devices == {"cuda"} else "numpy"
    cpu_ok = all(o._data.ndim == 0 for o in operands
                 if not isinstance(o, Literal) and not on_device(o._data))
    if cpu_ok:
        return "cuda"
    raise RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"
    )


def _to_cuda_scalar(o: Any) -> Any:
    from .runtime.arrays import on_device

    if isinstance(o, Literal) or on_device(o._data):
        return o
    return o.to("cuda")  # a 0-d CPU tensor joining a GPU op


def _compile_single(op: str, operands: Sequence[Any], attrs: dict[str, Any],
                    wrt: Sequence[bool], backend: str = "numpy") -> CompiledGraph:
    from .ir.builder import Builder

    names = "abcdefgh"
    inputs: list[Var] = []
    atoms: list[Any] = []
    kept_wrt = []
    for i, o in enumerate(operands):
        if isinstance(o, Const):
            atoms.append(Literal(o.value, o.dtype))
            continue
        t = TensorType((), o.dtype) if isinstance(o, Literal) else TensorType(o._data.shape, o._dtype)
        v = Var(t, names[i] if i < len(names) else f"x{i}")
        inputs.append(v)
        atoms.append(v)
        kept_wrt.append(wrt[i])
    b = Builder()
    out = b.emit(op, atoms, **attrs)
    biggest = max([out.type.numel] + [v.type.numel for v in inputs])  # (a reduction's input)
    if backend == "numpy" and biggest >= _eager_c_min_numel() and _native_ok():
        backend = "c"  # a big op: one C pass instead of NumPy's several (gelu: 200 -> 1 ms)
    return CompiledGraph(Graph(op, inputs, b.eqns, [out]), kept_wrt, backend=backend)


def _compile_multi(op: str, operands: Sequence[Any], attrs: dict[str, Any],
                   backend: str, write_back: tuple[tuple[int, int], ...] = ()) -> CompiledGraph:
    from .ir.builder import Builder

    inputs = [Var(TensorType(o._data.shape, o._dtype), f"x{i}") for i, o in enumerate(operands)]
    b = Builder()
    outs = b.emit_multi(op, inputs, **attrs)
    # (a multi-output op is a fused kernel: one C call, where NumPy makes a pass per step)
    if backend == "numpy" and _native_ok():
        backend = "c"
    graph = Graph(op, inputs, b.eqns, list(outs))
    if write_back:  # (codegen/c/generator.py: _write_in_place)
        graph.meta["write_back"] = write_back
    return CompiledGraph(graph, [False] * len(inputs), backend=backend)


def _eager_c_min_numel() -> int:
    """Eager ops with operands this big run as C kernels (TORCHTREK_EAGER_C_MIN_NUMEL)."""
    return int(os.environ.get("TORCHTREK_EAGER_C_MIN_NUMEL", 1 << 16))


def _native_ok() -> bool:
    from .runtime import native

    return os.environ.get("TORCHTREK_BACKEND") != "numpy" and native.available()


def edge_of(t: Any) -> tuple | None:
    return _edge(t)


__all__ = ["bind", "bind_multi", "edge_of", "Const", "on_device_of"]
