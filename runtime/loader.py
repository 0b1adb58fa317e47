"""Loads generated Python source as a module, registered with linecache so that
tracebacks through generated code show the generated lines."""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import marshal
import os
import tempfile
from types import CodeType
from typing import Any, Callable

from . import disk_cache

_LOADED: dict[str, dict[str, Any]] = {}

# Sources at least this long keep their bytecode in the disk cache: Python's compile()
# of a deep model's training step (thousands of lines) is a third of a warm start.
BYTECODE_MIN_CHARS = 16384


def _compile(source: str, filename: str, key: str) -> CodeType:
    """compile(), through the disk cache for long sources (keyed by the source and this
    interpreter's bytecode version; written atomically, a bad entry recompiled)."""
    if len(source) < BYTECODE_MIN_CHARS or not disk_cache.enabled():
        return compile(source, filename, "exec")
    tag = hashlib.sha256(importlib.util.MAGIC_NUMBER + key.encode()).hexdigest()[:32]
    path = disk_cache.cache_dir() / "bytecode" / f"{tag}.bin"
    try:
        code = marshal.loads(path.read_bytes())
        if isinstance(code, CodeType) and code.co_filename == filename:
            return code
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = compile(source, filename, "exec")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps(code))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk only costs the cache
    return code


def load_source(source: str, label: str = "graph") -> dict[str, Any]:
    """Execute `source` once per distinct text and return its namespace."""
    key = hashlib.sha256(source.encode()).hexdigest()
    ns = _LOADED.get(key)
    if ns is None:
        filename = f"<torchtrek-generated {label} {key[:12]}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        ns = {"__name__": f"torchtrek_generated_{key[:12]}"}
        exec(_compile(source, filename, key), ns)
        _LOADED[key] = ns
    return ns


def load_function(source: str, name: str) -> Callable[..., tuple]:
    return load_source(source, name)[name]
