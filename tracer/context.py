"""Trace contexts: while one is active, every op is recorded into its graph.

Traces nest (grad of grad): a value from an outer trace, or a concrete tensor, used
inside an inner trace is captured as an extra input of the inner graph.
"""

from __future__ import annotations

import linecache
import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from .._state import thread as _thread
from ..ir.builder import Builder
from ..ir.graph import Atom, Graph, SourceLoc, TensorType, Var


class TraceError(RuntimeError):
    """Python code asked for a value that only exists when the compiled code runs."""


# Files of the package that hold user-level code (examples), not machinery.
_USER_LEVEL = ("cli.py", "demo.py")


def _package_dirs() -> tuple[str, ...]:
    import torchtrek

    here = os.path.dirname(os.path.abspath(__file__))
    dirs = {os.path.dirname(os.path.abspath(torchtrek.__file__)), here}
    for sub in ("ir", "codegen", "runtime"):
        mod = sys.modules.get(f"torchtrek.{sub}")
        if mod is not None and getattr(mod, "__file__", None):
            dirs.add(os.path.dirname(os.path.abspath(mod.__file__)))
    return tuple(d + os.sep for d in dirs)


_PKG_DIRS: tuple[str, ...] | None = None


def user_location(skip_generated: bool = True) -> SourceLoc | None:
    """The innermost stack frame outside TorchTrek: the user's line."""
    global _PKG_DIRS
    if _PKG_DIRS is None:
        _PKG_DIRS = _package_dirs()
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        internal = fn.startswith(_PKG_DIRS) and not fn.endswith(_USER_LEVEL)
        if not internal and not fn.startswith(("<torchtrek", "<frozen")):
            code = linecache.getline(fn, f.f_lineno).strip()
            return SourceLoc(os.path.basename(fn), f.f_lineno, code)
        f = f.f_back
    return None


class TraceContext:
    def __init__(self, name: str) -> None:
        self.name = name
        self.builder = Builder()
        self.inputs: list[Var] = []
        self.captured: list[tuple[Any, Var]] = []  # (outside tensor, its input Var)
        self._captured_ids: dict[int, Var] = {}
        # Side effects on real objects, replayed by the compiled code at every call:
        self.mutated: dict[int, tuple[Any, Var]] = {}  # in-place ops: tensor -> new value
        self.mutation_counts: dict[int, int] = {}  # in-place ops per tensor (its version bumps)
        self.grad_saved: dict[int, tuple[Any, Any]] = {}  # .grad written: tensor -> original
        self.grad_read: dict[int, Any] = {}  # .grad read before any write (a guard)
        self.grad_cleared: set[int] = set()  # .grad set to None (a new .grad object follows)
        self.arg_tensors: list[Any] = []  # the symbolic stand-ins for tensor arguments
        self.did_backward = False
        self.outside_names: dict[int, str] = {}  # how the function names outside tensors
        # Python values the traced code decided on (an optimizer's `weight_decay != 0`):
        # (read it now, value at trace time); a compiled entry is valid while all still hold
        self.value_guards: list[tuple[Callable[[], Any], Any]] = []
        # run before every compiled call: refresh captured tensors that mirror Python
        # values (a 0-d tensor holding param_groups' lr, read afresh at each call)
        self.before_call: list[Callable[[], None]] = []
        # run by a traced backward() once the leaves' .grad are set (DDP's all-reduce)
        self.after_backward: list[Callable[[], None]] = []

    def new_input(self, type: TensorType, hint: str) -> Var:
        v = Var(type, hint)
        self.inputs.append(v)
        return v

    def capture(self, tensor: Any, type: TensorType, hint: str) -> Var:
        if id(tensor) in self.mutated:
            return self.mutated[id(tensor)][1]  # its value after an in-place op
        return self.input_slot(tensor, type, hint)

    def input_slot(self, tensor: Any, type: TensorType, hint: str) -> Var:
        """The graph input that holds `tensor`'s value at call time (made once)."""
        v = self._captured_ids.get(id(tensor))
        if v is None:
            v = Var(type, self.outside_names.get(id(tensor), hint))
            self._captured_ids[id(tensor)] = v
            self.captured.append((tensor, v))
        return v

    def record(self, op: str, inputs: Sequence[Atom], attrs: dict[str, Any],
               hint: str | None = None, loc: SourceLoc | None = None) -> Var:
        return self.builder.emit(op, inputs, hint=hint, loc=loc or user_location(), **attrs)

    def record_multi(self, op: str, inputs: Sequence[Atom], attrs: dict[str, Any],
                     hint: str | None = None) -> tuple[Var, ...]:
        return self.builder.emit_multi(op, inputs, hint=hint, loc=user_location(), **attrs)

    def note_mutation(self, tensor: Any, value: Var) -> None:
        self.mutated[id(tensor)] = (tensor, value)
        self.mutation_counts[id(tensor)] = self.mutation_counts.get(id(tensor), 0) + 1

    def note_grad_write(self, tensor: Any, value: Any) -> None:
        if id(tensor) not in self.grad_saved:
            self.grad_saved[id(tensor)] = (tensor, tensor._grad)
        if value is None:
            self.grad_cleared.add(id(tensor))

    def note_grad_read(self, tensor: Any) -> None:
        if id(tensor) not in self.grad_saved and id(tensor) not in self.grad_read:
            self.grad_read[id(tensor)] = tensor

    def guard_value(self, read: Callable[[], Any]) -> Any:
        """`read()`'s value now, which the compiled code may bake in: it is re-read at each
        call and the entry is rebuilt when it changed."""
        value = read()
        self.value_guards.append((read, value))
        return value

    def graph(self, outputs: Sequence[Atom]) -> Graph:
        """The recorded graph; captured values come after the declared inputs."""
        ins = self.inputs + [v for _, v in self.captured]
        return Graph(self.name, ins, list(self.builder.eqns), list(outputs))


def current_trace() -> TraceContext | None:
    """This thread's innermost active trace (another thread's trace never records our ops)."""
    stack = _thread.trace_stack
    return stack[-1] if stack else None


@contextmanager
def tracing(ctx: TraceContext) -> Iterator[TraceContext]:
    stack = _thread.trace_stack
    stack.append(ctx)
    try:
        yield ctx
    finally:
        stack.pop()


def trace_error(what: str) -> TraceError:
    loc = user_location()
    where = f"{loc.file}:{loc.line}: `{loc.code}`" if loc else "your function"
    return TraceError(
        f"{what} at {where}: this value is symbolic while the function is traced, so "
        f"Python control flow cannot depend on it. Compute both branches and select with "
        f"tt.where(cond, a, b), or move the check outside the compiled function."
    )
