"""TORCHTREK_LOGS=ir,backward,code,recompiles,timings: what the compiler prints to
stderr as it works (TORCHTREK_DEBUG=1 turns all of them on)."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Iterator

KINDS = ("ir", "backward", "code", "recompiles", "timings")


def _enabled() -> set[str]:
    if os.environ.get("TORCHTREK_DEBUG"):
        return set(KINDS)
    raw = os.environ.get("TORCHTREK_LOGS", "")
    return {k.strip() for k in raw.split(",") if k.strip()}


def on(kind: str) -> bool:
    return kind in _enabled()


def log(kind: str, text: str) -> None:
    if on(kind):
        print(f"[torchtrek:{kind}] {text}", file=sys.stderr)


class Timings:
    """Per-phase wall times of one compile (trace, autodiff, passes, codegen, load)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0

    def __str__(self) -> str:
        total = sum(self.phases.values())
        parts = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.phases.items())
        return f"{parts} (total {total * 1e3:.1f} ms)"
