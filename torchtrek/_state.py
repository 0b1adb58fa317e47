"""The mode state TorchTrek keeps, in one place.

Per thread, as torch keeps it: the stack of active traces (an op a thread runs is
recorded only into that thread's own trace), grad mode, the size hints a shape-generic
trace reads, and whether this thread has made the CUDA context current (pycuda's
contexts are per thread). A new thread starts with no trace, grad enabled, no hints.

Per process: the compile lock. Tracing runs the user's function on real objects (a
module's parameters, their `.grad`) and leaves them as it found them, so two traces at
once could see each other's symbolic values; traces and builds take this lock one at a
time (re-entrant: a trace may start another, grad of grad), as torch.compile's does.
Running compiled code does not take it.

What stays process-wide as in torch: the default dtype and the random generator.
This module imports nothing of TorchTrek, so every layer may import it.
"""

from __future__ import annotations

import threading
from typing import Any


class _ThreadState(threading.local):
    def __init__(self) -> None:  # (runs once in each thread that reads it)
        self.trace_stack: list[Any] = []  # active TraceContexts, innermost last
        self.grad_enabled: bool = True
        self.inference_mode: bool = False  # inside torch.inference_mode (grad off as well)
        self.size_hints: dict[Any, int] = {}  # sympy size symbol -> the value traced with
        self.size_guards: Any = None  # the GuardSet decisions on sizes are recorded into
        self.cuda_current: bool = False  # the primary CUDA context pushed in this thread


thread = _ThreadState()
compile_lock = threading.RLock()

__all__ = ["thread", "compile_lock"]
