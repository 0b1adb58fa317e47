"""Loads generated Python source as a module, registered with linecache so that
tracebacks through generated code show the generated lines."""

from __future__ import annotations

import hashlib
import linecache
from typing import Any, Callable

_LOADED: dict[str, dict[str, Any]] = {}


def load_source(source: str, label: str = "graph") -> dict[str, Any]:
    """Execute `source` once per distinct text and return its namespace."""
    key = hashlib.sha256(source.encode()).hexdigest()
    ns = _LOADED.get(key)
    if ns is None:
        filename = f"<torchtrek-generated {label} {key[:12]}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        ns = {"__name__": f"torchtrek_generated_{key[:12]}"}
        exec(compile(source, filename, "exec"), ns)
        _LOADED[key] = ns
    return ns


def load_function(source: str, name: str) -> Callable[..., tuple]:
    return load_source(source, name)[name]
