"""Whole-function compilation and functional transforms: tt.compile, tt.grad,
tt.value_and_grad, tt.trace.

A compiled function is traced once per input signature into an IR graph, optimized,
differentiated when inputs require grad, emitted as NumPy source and loaded; later calls
with the same signature only run the generated code.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from numpy.lib.array_utils import byte_bounds

from . import _logging, _state, autograd, dynamic
from .ir import symdims, symint
from ._dispatch import bind, edge_of
from .ir.autodiff import grad_graph
from .ir.graph import Graph, Literal, Var
from .ir.passes import optimize
from .runtime.compiled import CompiledGraph

from .runtime import arrays
from .tensor import Tensor
from .tracer import TraceContext, TraceError, current_trace, tracing



def _describe(k: Any) -> str:
    if k[0] == "T":
        return f"T{k[1]}"
    return repr(k[-1])


def _recompile_reason(fn: Callable[..., Any], old: Any, new: Any, entry: Any) -> str:
    """Which argument changed and how, e.g. 'x: shape (3, 4) -> (5, 4)'."""
    if entry is not None and old == new:
        return "a tensor captured from outside the function changed shape or dtype"
    (old_args, old_kw, old_grad, _, old_modes), (new_args, new_kw, new_grad, _, new_modes) = old, new
    names = _param_names(fn, max(len(old_args), len(new_args)))
    reasons = []
    for name, a, b in zip(names, old_args, new_args):
        if a == b:
            continue
        if a[0] == "T" and b[0] == "T":
            for label, i in (("shape", 1), ("dtype", 2), ("requires_grad", 3)):
                if a[i] != b[i]:
                    reasons.append(f"{name}: {label} {a[i]} -> {b[i]}")
        else:
            reasons.append(f"{name}: {_describe(a)} -> {_describe(b)}")
    if len(old_args) != len(new_args):
        reasons.append(f"number of arguments {len(old_args)} -> {len(new_args)}")
    if old_kw != new_kw:
        reasons.append("keyword arguments changed")
    if old_grad != new_grad:
        reasons.append(f"grad mode {old_grad} -> {new_grad}")
    if old_modes != new_modes:
        reasons.append("a module switched between train() and eval()")
    return "; ".join(reasons) or "a new signature"


def _param_names(fn: Callable[..., Any], n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY, params[i].POSITIONAL_OR_KEYWORD):
            names.append(params[i].name)
        elif params and params[-1].kind == params[-1].VAR_POSITIONAL:
            names.append(f"{params[-1].name}{i}")
        else:
            names.append(f"arg{i}")
    return names


def _outside_refs(fn: Callable[..., Any], depth: int = 3) -> dict[int, tuple[str, Callable[[], Any]]]:
    """Tensors `fn` reads from outside (closure cells, globals, and those of the plain
    functions it calls), by identity: the name it uses (a captured weight prints as %w1)
    and how to read that name again at call time, so rebinding `w1 = ...` between calls
    is seen, as torch.compile's guards do."""
    out: dict[int, tuple[str, Callable[[], Any]]] = {}
    code = getattr(fn, "__code__", None)
    if code is None or depth == 0:
        return out
    inner: list[Any] = []
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, Tensor):
            out.setdefault(id(value), (name, lambda cell=cell: cell.cell_contents))
        elif inspect.isfunction(value):
            inner.append(value)
    g = getattr(fn, "__globals__", {})
    for name in code.co_names:
        v = g.get(name)
        if isinstance(v, Tensor):
            out.setdefault(id(v), (name, lambda g=g, name=name: g.get(name)))
        elif inspect.isfunction(v) and getattr(v, "__module__", "").split(".")[0] != "torchtrek":
            inner.append(v)
    for f in inner:
        for k, ref in _outside_refs(f, depth - 1).items():
            out.setdefault(k, ref)
    return out


def _reachable_modules(fn: Any, depth: int = 3) -> list[Any]:
    """nn.Modules `fn` is, or reads from its closure and globals (with their children)."""
    found: dict[int, Any] = {}

    def add(obj: Any) -> None:
        if hasattr(obj, "training") and callable(getattr(obj, "modules", None)):
            for m in obj.modules():
                found.setdefault(id(m), m)

    def walk(f: Any, d: int) -> None:
        add(f)
        code = getattr(f, "__code__", None)
        if code is None or d == 0:
            return
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            add(v)
            if inspect.isfunction(v):
                walk(v, d - 1)
        g = getattr(f, "__globals__", {})
        for name in code.co_names:
            v = g.get(name)
            add(v)
            if inspect.isfunction(v) and getattr(v, "__module__", "").split(".")[0] != "torchtrek":
                walk(v, d - 1)

    walk(getattr(fn, "forward", None) if hasattr(fn, "training") else fn, depth)
    add(fn)
    return list(found.values())


def _flatten(out: Any) -> tuple[list[Tensor], Callable[[list[Any]], Any]]:
    """Tensors in a (nested) tuple/list/dict result, and how to rebuild it."""
    if isinstance(out, Tensor):
        return [out], lambda xs: xs[0]
    if isinstance(out, (tuple, list)):
        parts = [_flatten(o) for o in out]
        flat = [t for p, _ in parts for t in p]
        kind = type(out)

        def rebuild(xs: list[Any]) -> Any:
            res, i = [], 0
            for p, r in parts:
                res.append(r(xs[i : i + len(p)]))
                i += len(p)
            return kind(*res) if hasattr(kind, "_fields") else kind(res)  # named tuples

        return flat, rebuild
    if isinstance(out, dict):
        keys = list(out)
        flat, rebuild_vals = _flatten([out[k] for k in keys])
        return flat, lambda xs: dict(zip(keys, rebuild_vals(xs)))
    if out is None or isinstance(out, (bool, int, float, str)):
        return [], lambda xs: out
    raise TypeError(
        f"a compiled function must return tensors (or tuples/lists/dicts of them), "
        f"not {type(out).__name__}"
    )


def _is_container(a: Any) -> bool:
    """A list, tuple (named tuples too) or dict argument: its tensors are inputs of the
    trace, read at every call, and the rest of it is part of the signature (as
    torch.compile flattens such arguments)."""
    return type(a) in (list, tuple, dict) or (isinstance(a, tuple) and hasattr(a, "_fields"))


def _container_items(a: Any) -> list[tuple[Any, Any]]:
    return list(a.items()) if type(a) is dict else list(enumerate(a))


def _rebuilt(a: Any, values: list[Any]) -> Any:
    """`a`'s container type holding `values` (dict keys kept)."""
    if type(a) is dict:
        return dict(zip(a.keys(), values))
    return type(a)(*values) if hasattr(a, "_fields") else type(a)(values)


# Tensor (and container) keyword arguments travel as trailing positional arguments, so
# they are inputs like the others (read per call, with symbolic sizes); this key of the
# remaining kwargs names them, in order, for the trace to pass them back by keyword.
_FOLDED = "__torchtrek_keyword_tensors__"


def _fold_kwargs(args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
    names = tuple(k for k in sorted(kwargs) if isinstance(kwargs[k], Tensor) or _is_container(kwargs[k]))
    if not names:
        return args, kwargs
    rest = {k: v for k, v in kwargs.items() if k not in names}
    rest[_FOLDED] = names
    return args + tuple(kwargs[k] for k in names), rest


def _pick(args: Sequence[Any], pos: Any) -> Any:
    """The argument at `pos`: a position, or (position, key, key, ...) inside containers."""
    if type(pos) is int:
        return args[pos]
    x = args[pos[0]]
    for k in pos[1:]:
        x = x[k]
    return x


def _arg_key(a: Any) -> Any:
    if type(a) is Tensor and a._var is None and type(a._data) is np.ndarray:
        return ("T", a._data.shape, a._dtype, a.requires_grad, "cpu")  # the common case, fast
    if isinstance(a, Tensor):
        return ("T", tuple(a.shape), a.dtype, a.requires_grad, str(a.device))
    if _is_container(a):  # by contents (a list is read afresh at every call, as its tensors are)
        return ("C", type(a).__name__, tuple((k, _arg_key(v)) for k, v in _container_items(a)))
    try:
        hash(a)
        return ("V", type(a).__name__, a)
    except TypeError:
        return ("O", id(a))


def _values_hold(guards: list[tuple[Callable[[], Any], Any]]) -> bool:
    try:
        return all(read() == value for read, value in guards)
    except Exception:  # noqa: BLE001 - what it read is gone (a param group removed): rebuild
        return False


class _Entry:
    """One specialization: the traced graph, its compiled form and captured tensors."""

    def __init__(self, graph: Graph, compiled: CompiledGraph, captured: list[Tensor],
                 getters: list[Callable[[], Any]], rebuild: Callable[[list[Any]], Any],
                 tensor_pos: list[int], effects: "_Effects", n_user: int) -> None:
        self.graph = graph
        self.compiled = compiled
        self.getters = getters  # read each captured tensor afresh at every call
        self.rebuild = rebuild
        self.tensor_pos = tensor_pos
        self.captured_keys = [_arg_key(c) for c in captured]
        self.effects = effects
        self.n_user = n_user  # outputs the user sees; the rest are side-effect values

    def captured(self) -> list[Any]:
        return [g() for g in self.getters]

    def valid(self, args: Sequence[Any] = ()) -> bool:
        if self.effects.value_guards and not _values_hold(self.effects.value_guards):
            return False
        if not self.getters and not self.effects.guards:
            return True  # nothing captured, nothing guarded: the key said it all
        captured = self.captured()
        if not all(isinstance(c, Tensor) and _arg_key(c) == k
                   for c, k in zip(captured, self.captured_keys)):
            return False
        return all((self._target(t, args, captured)._grad is None) == was_none
                   for t, was_none in self.effects.guards)

    @staticmethod
    def _target(target: tuple, args: Sequence[Any], captured: list[Any]) -> Any:
        kind, ref = target
        return captured[ref] if kind == "captured" else _pick(args, ref) if kind == "arg" else ref

    @staticmethod
    def _adopt(t: Any, new: Any, taken: set[int]) -> bool:
        """Give `t` the array `new` instead of copying `new` into `t`'s own array, when no
        one can tell: `t`'s array is referenced by `t` alone (no view, no .numpy(), no
        saved residual), and `new` is a fresh array nobody else gets (not an input, an
        output or another tensor's). Saves a copy per parameter and .grad per step."""
        old = t._data
        if (type(old) is not np.ndarray or type(new) is not np.ndarray or new.base is not None
                or old.base is not None  # t views another array: that one must see the update
                or id(new) in taken or new.dtype != old.dtype or new.shape != old.shape
                or not new.flags.c_contiguous or sys.getrefcount(old) > 3):
            return False  # (3: t._data, `old`, getrefcount's argument)
        t._data = new
        taken.add(id(new))
        return True

    @classmethod
    def _store(cls, t: Any, new: Any, taken: set[int]) -> None:
        """`t` gets the step's new value: already there when a kernel wrote it in place
        (codegen/c/generator.py: _write_in_place), else adopted or copied in."""
        if new is not t._data and not cls._adopt(t, new, taken):
            arrays.copy_into(t._data, new)

    def _apply_effects(self, args: Sequence[Any], captured: list[Any], values: list[Any],
                       taken: set[int]) -> None:
        fx = self.effects
        for idx, vi, count in fx.mutations:
            self._store(captured[idx], values[vi], taken)
            captured[idx]._vc[0] += count  # one version per in-place op the step made, as eagerly
        for pos, vi, count in fx.arg_mutations:
            t = _pick(args, pos)
            self._store(t, values[vi], taken)
            t._vc[0] += count
        for target, kind, payload in fx.grads:
            t = self._target(target, args, captured)
            if kind == "none":
                t._grad = None
            elif kind == "new":
                g = values[payload]
                fresh = type(g) is np.ndarray and g.base is None and id(g) not in taken
                taken.add(id(g))
                t._grad = Tensor._wrap(g if fresh else arrays.copy(g))
            elif kind == "value":
                g = values[payload]
                if t._grad is not None and tuple(t._grad._data.shape) == tuple(g.shape) and \
                        arrays.on_device(t._grad._data) == arrays.on_device(g):
                    if not self._adopt(t._grad, g, taken):  # keep the .grad object, as torch does
                        arrays.copy_into(t._grad._data, g)
                else:
                    t._grad = Tensor._wrap(arrays.copy(g))
            else:
                t._grad = payload

    def run(self, args: Sequence[Any]) -> Any:
        for refresh in self.effects.before_call:
            refresh()
        captured = self.captured() if self.getters else []
        inputs = [args[i] if type(i) is int else _pick(args, i) for i in self.tensor_pos] + captured
        all_outs, residuals = self.compiled.run([t._data for t in inputs])
        outs = all_outs[: self.n_user]
        results = [Tensor._wrap(o) for o in outs]
        cg = self.compiled
        if cg.ct_outputs and autograd.is_grad_enabled():  # (no backward: nothing to record)
            edges = [edge_of(inputs[i]) for i in cg.wrt_indices]
            node = autograd.node_class("CompiledFunctionBackward")(
                self.compiled, residuals, edges, [(o.shape, o.dtype) for o in outs]
            )
            for i in cg.ct_outputs:
                results[i].requires_grad = True
                results[i].grad_fn = node
                results[i]._out_index = i
            # before the write-backs below: an input the step updates in place after
            # saving it is then refused by backward, as torch refuses it
            autograd.record_saved(node, inputs, results)
        if len(all_outs) > self.n_user:
            # (ids only: a list of the arrays would hold them and defeat _adopt's check)
            # (and what the backward saved or an output views: they must keep their values)
            taken = {id(t._data) for t in inputs}
            for a in list(outs) + list(residuals):
                if isinstance(a, np.ndarray):
                    taken.add(id(a))
                    if a.base is not None:
                        taken.add(id(a.base))
            self._apply_effects(args, captured, all_outs[self.n_user:], taken)
        for i, target in self.effects.returned:
            results[i] = self._target(target, args, captured)
        for i, target in self.effects.returned_grads:
            results[i] = self._target(target, args, captured)._grad
        return self.rebuild(results)


class _DynamicEntry:
    """A function traced with symbolic sizes: NumPy code that serves every size, and
    for the C backend kernels printed per size from the same graphs (no new trace)."""

    def __init__(self, pattern: "dynamic.SizePattern", generic: _Entry, backend: str,
                 guards: "symint.GuardSet | None" = None) -> None:
        self.pattern = pattern
        self.generic = generic
        self.backend = backend
        self.sized: dict[tuple[int, ...], _Entry] = {}
        # the decisions the trace made on sizes: this entry serves only calls where they hold
        self.guards = guards
        self.guards_hold = guards.compile() if guards is not None and guards.relations else None

    MAX_SIZED = 64  # kernels kept per shape-generic function (one set per size seen)

    def pinned_dims(self) -> set[tuple[int, int]]:
        """The argument dimensions whose value the code needed (len(x), int(x.shape[0]),
        range()): later shape-generic attempts keep them static."""
        pinned = self.guards.specialized if self.guards is not None else set()
        return {(i, d) for i, shape in self.pattern.shapes.items()
                for d, s in enumerate(shape) if s in pinned}

    def lookup(self, args: Sequence[Any], key: Any) -> _Entry | None:
        binding = self.pattern.bind(key)
        if binding is None or not self.generic.valid(args):
            return None
        if self.guards_hold is not None and not self.guards_hold(binding):  # (generated code)
            if _logging.on("recompiles"):
                failed = [str(r) for r in self.guards.relations if not r.subs(binding)]
                _logging.log("recompiles", f"guard failed: {', '.join(failed)} (with "
                                           f"{', '.join(f'{s}={n}' for s, n in binding.items())})")
            return None
        if self.backend == "numpy":
            return self.generic
        sizes = tuple(binding[s] for s in sorted(binding, key=str))
        entry = self.sized.get(sizes)
        if entry is None:
            g = self.generic
            entry = object.__new__(_Entry)
            entry.__dict__.update(g.__dict__)
            entry.compiled = g.compiled.specialize(binding, self.backend)
            if len(self.sized) >= self.MAX_SIZED:  # many sizes (sequence lengths): drop the oldest
                del self.sized[next(iter(self.sized))]
            self.sized[sizes] = entry
        return entry


def trace_function(fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any],
                   name: str | None = None, types: dict[int, Any] | None = None,
                   ) -> tuple[TraceContext, list[Any], Any, list[int]]:
    """Run `fn` on symbolic stand-ins for the tensor arguments. Returns the trace, the
    flat outputs (Tensors), the output rebuilder and the positions of tensor args.
    `ctx.getters` holds, per captured tensor, how to read it again at call time.
    `types` overrides argument types by position (symbolic sizes, for dynamic=True).
    One trace at a time in the process (_state.compile_lock): tracing touches real objects."""
    with _state.compile_lock:
        return _trace_function(fn, args, kwargs, name, types)


def _trace_function(fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any],
                    name: str | None, types: dict[int, Any] | None,
                    ) -> tuple[TraceContext, list[Any], Any, list[int]]:
    ctx = TraceContext(name or getattr(fn, "__name__", type(fn).__name__).replace("<lambda>", "lambda"))
    ctx.device = next((a.device for a in args if isinstance(a, Tensor)), None)
    kwargs = dict(kwargs)
    folded = kwargs.pop(_FOLDED, ())  # the trailing args that are keyword tensors
    n_pos = len(args) - len(folded)
    names = _param_names(fn, n_pos) + list(folded)
    sym_args: list[Any] = []
    tensor_pos = []
    def stand_in(a: Any, pos: Any, name: str, type_: Any = None) -> Any:
        if isinstance(a, Tensor):
            v = ctx.new_input(type_ or a._type(), name)
            st = Tensor._symbolic(v, ctx, a.requires_grad and autograd.is_grad_enabled())
            ctx.arg_tensors.append(st)
            tensor_pos.append(pos)
            return st
        if _is_container(a):
            base = pos if type(pos) is tuple else (pos,)
            return _rebuilt(a, [stand_in(v, base + (k,), f"{name}_{k}")
                                for k, v in _container_items(a)])
        return a

    for i, (a, n) in enumerate(zip(args, names)):
        if isinstance(a, Tensor) or _is_container(a):
            sym_args.append(stand_in(a, i, n, types[i] if types and i in types else None))
        else:
            sym_args.append(a)
    outside = _outside_refs(fn)
    ctx.outside_names = {k: name for k, (name, _) in outside.items()}
    with tracing(ctx):
        out = fn(*sym_args[:n_pos], **dict(zip(folded, sym_args[n_pos:])), **kwargs)
        flat, rebuild = _flatten(out)
        # Outputs computed outside this trace (a returned weight, say) become inputs.
        atoms = []
        for t in flat:
            atoms.append(t._var if t._trace is ctx else ctx.capture(t, t._type(), t._hint))
        ctx.effects = _collect_effects(ctx, tensor_pos)
        # a returned real tensor (a parameter) or argument is that object, as in torch
        where = {id(c): ("captured", j) for j, (c, _) in enumerate(ctx.captured)}
        where.update({id(st): ("arg", pos) for pos, st in zip(tensor_pos, ctx.arg_tensors)})
        ctx.effects.returned = [(i, where[id(t)]) for i, t in enumerate(flat)
                                if id(t) in where and (t._var is None or t._trace is ctx)]
        ctx.effects.returned_grads = [(i, ctx.effects.grad_values[id(t)]) for i, t in enumerate(flat)
                                      if id(t) in ctx.effects.grad_values]
        ctx.effects.grad_values = {}  # (ids of tensors of this trace only)
    ctx.getters = []
    for t, v in ctx.captured:
        name, getter = outside.get(id(t), (None, lambda t=t: t))
        v.hint = name or (v.hint if v.hint != "c" else "const")
        ctx.getters.append(getter)
    return ctx, atoms, rebuild, tensor_pos


@dataclass
class _Effects:
    """What a traced function did to real objects, for the compiled code to replay:
    in-place writes to captured tensors and `.grad` assignments (the compiled training
    step: backward() and optimizer.step() inside the function). `values` are extra
    graph outputs; targets are ("captured", index), ("arg", position) or ("obj", tensor)."""

    values: list[Var] = field(default_factory=list)
    # (captured idx, value idx, in-place ops on it: its version bumps per call)
    mutations: list[tuple[int, int, int]] = field(default_factory=list)
    grads: list[tuple[tuple, str, Any]] = field(default_factory=list)  # (target, kind, payload)
    guards: list[tuple[tuple, bool]] = field(default_factory=list)  # (target, grad was None)
    # (output position, captured idx): a real tensor the function returned (a parameter):
    # the call returns that object itself, as torch does, not a snapshot of its value
    returned: list[tuple[int, tuple]] = field(default_factory=list)
    # (arg position, value idx, in-place ops): an argument the function updated in place
    arg_mutations: list[tuple[Any, int, int]] = field(default_factory=list)
    # (output position, target): a `.grad` the function returned is that .grad object
    returned_grads: list[tuple[int, tuple]] = field(default_factory=list)
    grad_values: dict[int, tuple] = field(default_factory=dict)  # id(traced grad) -> target
    value_guards: list[tuple[Callable[[], Any], Any]] = field(default_factory=list)
    before_call: list[Callable[[], None]] = field(default_factory=list)


def _write_back(ctx: TraceContext, n_user: int, tensor_pos: list[Any],
                inputs: list[Any]) -> tuple[tuple[int, int], ...]:
    """(graph output, graph input) for each value the call writes back into an input's
    tensor: a kernel may compute that output over that input's own array (the C backend's
    optimizer kernels; codegen/c/generator.py: _write_in_place). Not for an input whose
    memory another input shares (a detached alias of a parameter, captured on its own):
    that one would see the update early."""
    fx, n_args = ctx.effects, len(ctx.inputs)
    pairs = [(n_user + vi, n_args + idx) for idx, vi, _ in fx.mutations]
    pairs += [(n_user + vi, tensor_pos.index(pos)) for pos, vi, _ in fx.arg_mutations]
    shared = _sharing_memory([t._data for t in inputs])
    return tuple(sorted((o, i) for o, i in pairs if i not in shared))


def _sharing_memory(arrays: list[Any]) -> set[int]:
    """Positions of the host arrays whose byte ranges overlap another's (a sweep over
    the ranges sorted by start: n log n)."""
    spans = []
    for i, a in enumerate(arrays):
        if type(a) is np.ndarray and a.nbytes:
            lo, hi = byte_bounds(a)
            spans.append((lo, hi, i))
    spans.sort()
    shared: set[int] = set()
    reach, owner = -1, -1
    for lo, hi, i in spans:
        if lo < reach:
            shared.update((i, owner))
        if hi > reach:
            reach, owner = hi, i
    return shared


def _collect_effects(ctx: TraceContext, tensor_pos: list[int]) -> _Effects:
    fx = _Effects(value_guards=list(ctx.value_guards), before_call=list(ctx.before_call))
    index = {id(t): i for i, (t, _) in enumerate(ctx.captured)}

    def target(t: Any) -> tuple:
        return ("captured", index[id(t)]) if id(t) in index else ("obj", t)

    for tensor, var in ctx.mutated.values():
        if id(tensor) not in index:  # written but never read: give it a slot all the same
            ctx.input_slot(tensor, tensor._type(), tensor._hint)
            index[id(tensor)] = len(ctx.captured) - 1
        fx.mutations.append((index[id(tensor)], len(fx.values), ctx.mutation_counts[id(tensor)]))
        fx.values.append(var)
    for pos, st, v in zip(tensor_pos, ctx.arg_tensors, ctx.inputs):
        if st._var is not v:  # updated in place: the caller's tensor gets the new value
            fx.arg_mutations.append((pos, len(fx.values), ctx.mutation_counts.get(id(st), 1)))
            fx.values.append(st._var)
    for tid, (tensor, original) in ctx.grad_saved.items():
        final = tensor._grad
        tensor._grad = original  # tracing must leave real objects as it found them
        if final is None:
            fx.grads.append((target(tensor), "none", None))
        elif final._trace is ctx:
            # set to None during the step (zero_grad's set_to_none): a new .grad tensor per
            # call, as torch makes one; else the .grad object is kept and written into
            kind = "new" if tid in ctx.grad_cleared else "value"
            fx.grads.append((target(tensor), kind, len(fx.values)))
            fx.grad_values[id(final)] = target(tensor)
            fx.values.append(final._var)
        elif final is not original:
            fx.grads.append((target(tensor), "tensor", final))
    for pos, st in zip(tensor_pos, ctx.arg_tensors):
        g = st._grad
        if g is not None and g._trace is ctx:
            fx.grad_values[id(g)] = ("arg", pos)
            fx.grads.append((("arg", pos), "value", len(fx.values)))
            fx.values.append(g._var)
    for tid, tensor in ctx.grad_read.items():
        fx.guards.append((target(tensor), ctx.grad_saved.get(tid, (None, tensor._grad))[1] is None))
    return fx


def trace_backward(t: Tensor, gradient: Any = None) -> None:
    """`loss.backward()` inside a traced function: the backward graph is appended to
    the trace and the leaves' `.grad` become traced values (written back per call)."""
    from .ir.autodiff import active_values, backprop

    ctx = current_trace()
    if ctx is None or t._trace is not ctx:
        raise TraceError("backward() on a value of another (outer) trace is not supported")
    if not t.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None and t.numel() != 1:
        raise RuntimeError("grad can be implicitly created only for scalar outputs")
    leaves = [(a, a._var) for a in ctx.arg_tensors if a.requires_grad]
    leaves += [(c, v) for c, v in ctx.captured
               if isinstance(c, Tensor) and c._var is None and c.requires_grad and c.grad_fn is None]
    inputs = ctx.inputs + [v for _, v in ctx.captured]
    leaf_vars = {id(v) for _, v in leaves}
    graph = Graph(ctx.name, inputs, list(ctx.builder.eqns), [])
    active = active_values(graph, [id(v) in leaf_vars for v in inputs])
    if gradient is None:
        seed = ctx.record("full", [], {"shape": tuple(t.shape), "value": 1, "dtype": t.dtype},
                          "grad_" + t._var.hint)
    else:
        gt = gradient if isinstance(gradient, Tensor) else Tensor._wrap(gradient)
        seed = gt._var if gt._trace is ctx else ctx.capture(gt, gt._type(), "grad_output")
    cts = backprop(ctx.builder, graph.eqns, {t._var: seed}, active)
    ctx.did_backward = True
    for leaf, var in leaves:
        g = cts.get(var)
        if g is None:
            continue
        if isinstance(g, Var) and g.hint.startswith("grad") is False:
            g.hint = "grad_" + var.hint
        new = Tensor._symbolic(g, ctx, False)
        with autograd.no_grad():
            leaf.grad = new if leaf.grad is None else leaf.grad + new
    for callback in ctx.after_backward:  # (DistributedDataParallel's gradient all-reduce)
        callback()


class CompiledFunction:
    """The callable `tt.compile` returns. `trace_count` counts traces (for tests)."""

    def __init__(self, fn: Callable[..., Any], **options: Any) -> None:
        self.fn = fn
        self.options = options
        self.cpu_backend = cpu_backend(options.get("backend"))
        self._cache: dict[Any, _Entry] = {}
        self._modules: list[Any] | None = None
        self._last_key: Any = None
        self.trace_count = 0
        # shape-generic entries (see torchtrek/dynamic.py): True (from the first call);
        # "auto", the default as torch's (None means it too): static first, and the sizes
        # that change become symbols, with guards; False: specialize per size
        dyn = options.get("dynamic")
        self.dynamic: bool | str = "auto" if dyn is None else dyn
        self._dynamic: list[_DynamicEntry] = []
        self._dynamic_failed: set[Any] = set()
        self._static_dims: set[tuple[int, int]] = set()  # pinned by a guard (len(x), int(n))
        # torch's cache_size_limit: past it, new signatures run eagerly (with a warning)
        self.cache_size_limit: int = int(options.get("cache_size_limit", 8))
        self._n_entries = 0
        # (an eager helper of our own, nn/_fused.py, falls back without telling the user)
        self._warned_limit = not options.get("warn_cache_limit", True)
        functools.update_wrapper(self, fn, updated=())

    def _key(self, args: Sequence[Any], kwargs: dict[str, Any], force_grad: bool) -> Any:
        # (keyword tensors are trailing args by now: see _fold_kwargs)
        kw = tuple((k, _arg_key(v)) for k, v in sorted(kwargs.items())) if kwargs else ()
        return (tuple(map(_arg_key, args)), kw, autograd.is_grad_enabled(), force_grad,
                self._modes())

    def _modes(self) -> tuple[bool, ...]:
        """train()/eval() of every module the function reaches: dropout and friends trace
        differently, so a change of mode is a new signature (as torch.compile guards it)."""
        if self._modules is None:
            self._modules = _reachable_modules(self.fn)
        return tuple(m.training for m in self._modules) if self._modules else ()

    def _entry(self, args: Sequence[Any], kwargs: dict[str, Any], force_grad: bool = False,
               limit: bool = False) -> _Entry | None:
        """The entry for this call, built if needed; with `limit`, None when building it
        would pass cache_size_limit (the call then runs eagerly)."""
        key = self._key(args, kwargs, force_grad)
        entry = self._cache.get(key)
        if entry is not None and entry.valid(args):
            self._last_key = key
            return entry
        # a miss: trace and build under the compile lock, looking again once it is held,
        # so N threads making the first call at once build once (the others then find
        # the finished entry: an entry is in the cache only once it is complete)
        with _state.compile_lock:
            return self._entry_locked(args, kwargs, force_grad, key, limit)

    def _entry_locked(self, args: Sequence[Any], kwargs: dict[str, Any], force_grad: bool,
                      key: Any, limit: bool = False) -> _Entry | None:
        entry = self._cache.get(key)
        if entry is not None and entry.valid(args):
            self._last_key = key
            return entry
        for d in self._dynamic:  # a shape-generic entry whose guards hold
            found = d.lookup(args, key)
            if found is not None:
                self._cache[key] = found  # this size again: found at once
                self._last_key = key
                return found
        if limit and self._n_entries >= self.cache_size_limit:
            self._warn_limit(key, entry)
            return None
        self._n_entries += 1
        if self.dynamic:
            found = self._dynamic_entry(args, kwargs, force_grad, key)
            if found is not None:
                self._cache[key] = found  # this size again: found at once
                self._last_key = key
                return found
        if self._last_key is not None and _logging.on("recompiles"):
            why = _recompile_reason(self.fn, self._last_key, key, entry)
            _logging.log("recompiles", f"{getattr(self.fn, '__name__', 'f')}: {why}")
        entry = self._cache[key] = self._build(args, kwargs, force_grad)
        self._last_key = key
        return entry

    def _dynamic_entry(self, args: Sequence[Any], kwargs: dict[str, Any], force_grad: bool,
                       key: Any) -> _Entry | None:
        """A new shape-generic entry for this call, built when `dynamic=True` or when a
        dimension changed since the last call; None to specialize instead."""
        if self.dynamic is True:
            # every size, else the leading (batch) ones: x @ w needs x's last size fixed
            attempts = [dynamic.all_dims(key), dynamic.leading_dims(key)]
        elif self.dynamic == "auto" and self._last_key is not None:
            attempts = [dynamic.changed_dims(self._last_key, key)]
        else:
            return None
        name = getattr(self.fn, "__name__", "f")
        why = (_recompile_reason(self.fn, self._last_key, key, None) + "; "
               if self._last_key is not None else "")
        arg_names = _param_names(self.fn, len(key[0]))
        while attempts:
            dims = attempts.pop(0)
            pattern = dynamic.SizePattern(key, dims - self._static_dims)
            if not pattern or pattern.ident() in self._dynamic_failed:
                continue
            try:
                d = self._build_dynamic(args, kwargs, force_grad, pattern)
            except Exception as exc:  # what symbolic sizes cannot do: specialize, as torch does
                self._dynamic_failed.add(pattern.ident())
                _logging.log("recompiles", f"{name}: {why}dynamic sizes ({pattern.describe(arg_names)}) "
                                           f"not possible: {type(exc).__name__}: {exc}")
                continue
            pinned = d.pinned_dims()
            if pinned:  # a guard pinned a size (cross_entropy's class count): trace again
                self._static_dims |= pinned  # with it static, as torch specializes it
                _logging.log("recompiles", f"{name}: {why}guards pin {sorted(pinned)}: traced "
                                           f"again with those sizes static")
                attempts.insert(0, dims)
                continue
            _logging.log("recompiles", f"{name}: {why}compiled with dynamic sizes "
                                       f"({pattern.describe(arg_names)})")
            self._dynamic.append(d)
            return d.lookup(args, key)
        return None

    def _warn_limit(self, key: Any, entry: Any) -> None:
        if self._warned_limit:
            return
        self._warned_limit = True
        name = getattr(self.fn, "__name__", "f")
        why = _recompile_reason(self.fn, self._last_key, key, entry) if self._last_key is not None else ""
        warnings.warn(
            f"tt.compile: {name} reached cache_size_limit ({self.cache_size_limit} compiled "
            f"entries); calls needing a new one now run eagerly (correct, not compiled). "
            f"Last recompile: {why or 'a new signature'}. Raise the limit with "
            f"tt.compile(..., cache_size_limit=N), or see TORCHTREK_LOGS=recompiles,guards.",
            RuntimeWarning, stacklevel=_user_stacklevel())

    def _build_dynamic(self, args: Sequence[Any], kwargs: dict[str, Any], force_grad: bool,
                       pattern: "dynamic.SizePattern") -> "_DynamicEntry":
        with symdims.hints(pattern.hints), symint.recording(pattern.hints) as guards:
            generic = self._build(args, kwargs, force_grad, pattern.types(args), backend="numpy")
        # (the generator refuses sizes it cannot print: the except above specializes)
        if _logging.on("guards"):
            _logging.log("guards", f"{getattr(self.fn, '__name__', 'f')}: guards {guards}")
        return _DynamicEntry(pattern, generic, self.cpu_backend, guards)

    def _entry_for(self, args: Sequence[Any], kwargs: dict[str, Any], backward: bool) -> _Entry:
        """The entry a call would use; for `backward`, one that differentiates every float
        input when the call's own entry has no backward (no input requires grad)."""
        if kwargs:
            args, kwargs = _fold_kwargs(tuple(args), kwargs)
        entry = self._entry(args, kwargs)
        if backward and not entry.compiled.has_backward:
            entry = self._entry(args, kwargs, force_grad=True)
        return entry

    def _build(self, args: Sequence[Any], kwargs: dict[str, Any], force_grad: bool,
               types: dict[int, Any] | None = None, backend: str | None = None) -> _Entry:
        self.trace_count += 1
        timings = _logging.Timings()
        with timings.phase("trace"):
            ctx, atoms, rebuild, tensor_pos = trace_function(self.fn, args, kwargs, types=types)
            graph = ctx.graph(atoms + ctx.effects.values)
        if _state.thread.size_guards is not None and _state.thread.size_guards.relations:
            # a shape-generic trace: its IR says which sizes it serves
            graph.meta["guards"] = tuple(_state.thread.size_guards.relations)
        captured = [t for t, _ in ctx.captured]
        inputs = [_pick(args, i) for i in tensor_pos] + captured
        write_back = _write_back(ctx, len(atoms), tensor_pos, inputs)
        if write_back:
            graph.meta["write_back"] = write_back
        if force_grad:
            wrt = [t.dtype.is_floating_point for t in inputs]
        elif ctx.did_backward:
            wrt = [False] * len(inputs)  # the function differentiated itself (a training step)
        else:
            wrt = [t.requires_grad and autograd.is_grad_enabled() for t in inputs]
        devices = {str(t.device) for t in inputs}
        if len(devices) > 1:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                + " and ".join(sorted(devices)) + "! (in a compiled function's inputs)")
        if devices == {"cuda:0"}:
            if types:
                raise NotImplementedError("dynamic sizes on the GPU")
            backend = "cuda"
        else:
            backend = backend or self.cpu_backend
        compiled = CompiledGraph(graph, wrt, persistent=True, timings=timings, backend=backend)
        # (guarded: from the disk cache, the graphs are parsed only when someone looks)
        if _logging.on("ir"):
            _logging.log("ir", f"forward graph:\n{compiled.graph}")
        if compiled.has_backward and _logging.on("backward"):
            _logging.log("backward", f"backward graph:\n{compiled.backward_graph}")
        if _logging.on("code"):
            _logging.log("code", f"generated source:\n{compiled.forward_source}{compiled.backward_source}")
        cached = " (generated sources from the disk cache)" if compiled.from_cache else ""
        _logging.log("timings", f"compiled {graph.name}: {timings}{cached}")
        return _Entry(graph, compiled, captured, ctx.getters, rebuild, tensor_pos, ctx.effects,
                      len(atoms))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if current_trace() is not None:
            return self.fn(*args, **kwargs)  # inside another trace: inline
        if kwargs:
            args, kwargs = _fold_kwargs(args, kwargs)
        entry = self._entry(args, kwargs, limit=True)
        if entry is None:  # past cache_size_limit: eagerly, as torch falls back
            return self._eager(args, kwargs)
        return entry.run(args)

    def _eager(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        kwargs = dict(kwargs)
        folded = kwargs.pop(_FOLDED, ())
        n_pos = len(args) - len(folded)
        return self.fn(*args[:n_pos], **dict(zip(folded, args[n_pos:])), **kwargs)

    def ir(self, *args: Any, backward: bool = False, **kwargs: Any) -> str:
        """The optimized forward IR for these arguments, or the backward IR."""
        entry = self._entry_for(args, kwargs, backward)
        if backward:
            return str(entry.compiled.backward_graph or "")
        return str(entry.compiled.graph)

    def source(self, *args: Any, backward: bool = False, **kwargs: Any) -> str:
        """The generated NumPy source for these arguments (forward or backward)."""
        entry = self._entry_for(args, kwargs, backward)
        if backward:
            return entry.compiled.backward_source
        return entry.compiled.forward_source


_TORCH_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")  # torch.compile's names
_warned_no_cc = False


def _user_stacklevel() -> int:
    """The warnings stacklevel of the first caller outside the torchtrek package."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    f, level = sys._getframe(1), 1
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkg + os.sep) \
            and "/tests/" not in f.f_code.co_filename:
        f, level = f.f_back, level + 1
    return level


def cpu_backend(requested: str | None = None) -> str:
    """The backend a compiled function runs on the CPU: `requested` ("c" or "numpy"), or
    by default ($TORCHTREK_BACKEND, else) the fastest this machine has: C when a C
    compiler works, NumPy otherwise (with a one-time warning)."""
    global _warned_no_cc
    from .runtime import native

    choice = requested or os.environ.get("TORCHTREK_BACKEND") or "default"
    if choice in ("default",) + _TORCH_BACKENDS:
        if native.available():
            return "c"
        if not _warned_no_cc:
            _warned_no_cc = True
            warnings.warn("torchtrek: no working C compiler found, compiled functions run on the "
                          "NumPy backend (slower). Install gcc or clang (or set CC) for the native "
                          "backend.", RuntimeWarning, stacklevel=_user_stacklevel())
        return "numpy"
    if choice == "c":
        if not native.available():
            raise RuntimeError("tt.compile(backend='c'): no working C compiler found; install gcc "
                               "or clang (or set CC), or use backend='numpy'")
        return "c"
    if choice == "numpy":
        return "numpy"
    raise ValueError(f"tt.compile: unknown backend {choice!r} (expected 'c' or 'numpy')")


def compile(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`@tt.compile` or `@tt.compile(backend="c" | "numpy", ...)`, like torch.compile. The
    default backend is the fastest available (see `cpu_backend`)."""
    if fn is None:
        return lambda f: CompiledFunction(f, **options)
    return CompiledFunction(fn, **options)


def eval_graph(graph: Graph, inputs: Sequence[Any]) -> list[Any]:
    """Run `graph` op by op through `bind` (records into the active trace, if any)."""
    env: dict[Var, Any] = dict(zip(graph.inputs, inputs))

    def get(a: Any) -> Any:
        return a if isinstance(a, Literal) else env[a]

    for e in graph.eqns:
        out = bind(e.op, [get(a) for a in e.inputs], e.params, hint=e.outputs[0].hint, loc=e.loc)
        env[e.outputs[0]] = out
    return [get(a) for a in graph.outputs]


def _grad_impl(f: Callable[..., Any], argnums: tuple[int, ...], with_value: bool,
               args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    for i in argnums:
        if i >= len(args) or not isinstance(args[i], Tensor):
            raise TypeError(f"grad: argument {i} must be a Tensor to differentiate with respect to it")
        if not args[i].dtype.is_floating_point:
            raise TypeError(f"grad: argument {i} has dtype {args[i].dtype}; only floating point inputs can be differentiated")
    ctx, atoms, _, tensor_pos = trace_function(f, args, kwargs)
    if len(atoms) != 1 or atoms[0].shape != () or not atoms[0].dtype.is_floating_point:
        shape = atoms[0].shape if len(atoms) == 1 else f"{len(atoms)} outputs"
        raise RuntimeError(
            f"grad: expected {getattr(f, '__name__', 'f')}(*args) to return a floating point scalar "
            f"Tensor, got {shape}; use .sum() or tt.compile with .backward(gradient) instead"
        )
    graph = ctx.graph(atoms)
    positions = [tensor_pos.index(i) for i in argnums]
    joint = optimize(grad_graph(graph, positions, with_value))
    inputs = [_pick(args, i) for i in tensor_pos] + [t for t, _ in ctx.captured]
    return eval_graph(joint, inputs)


class _GradTransform:
    def __init__(self, f: Callable[..., Any], argnums: int | Sequence[int], with_value: bool) -> None:
        self.f = f
        self.single = isinstance(argnums, int)
        self.argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        self.with_value = with_value
        functools.update_wrapper(self, f, updated=())
        name = getattr(f, "__name__", "f").replace("<lambda>", "lambda")

        def joint(*args: Any, **kwargs: Any) -> Any:
            outs = _grad_impl(self.f, self.argnums, self.with_value, args, kwargs)
            value, grads = (outs[0], outs[1:]) if self.with_value else (None, outs)
            g = grads[0] if self.single else tuple(grads)
            return (value, g) if self.with_value else g

        joint.__name__ = ("value_and_grad_" if with_value else "grad_") + name
        joint.__signature__ = inspect.signature(f) if callable(f) else None  # type: ignore[attr-defined]
        self.compiled = CompiledFunction(joint)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.compiled(*args, **kwargs)

    def ir(self, *args: Any, **kwargs: Any) -> str:
        return self.compiled.ir(*args, **kwargs)

    def source(self, *args: Any, **kwargs: Any) -> str:
        return self.compiled.source(*args, **kwargs)


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> _GradTransform:
    """JAX-style gradient of a scalar function; nests for higher derivatives."""
    return _GradTransform(f, argnums, with_value=False)


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> _GradTransform:
    return _GradTransform(f, argnums, with_value=True)


def trace(f: Callable[..., Any], *example_args: Any, **kwargs: Any) -> Graph:
    """The optimized IR graph of `f` for these example arguments; str() is its text.

    `tt.trace(matrix)` with a tensor is torch.trace (the sum of the diagonal), so code
    written for torch keeps working."""
    if isinstance(f, Tensor):
        return f.trace()
    ctx, atoms, _, _ = trace_function(f, example_args, kwargs)
    return optimize(ctx.graph(atoms))


__all__ = ["compile", "grad", "value_and_grad", "trace", "CompiledFunction", "TraceError"]
