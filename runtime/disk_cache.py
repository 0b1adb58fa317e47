"""Persistent cache of generated sources, keyed by a hash of the IR, the options and
the compiler's own code (so a new TorchTrek never reads an old entry).

Entries are JSON files written to a temporary name and renamed into place, so two
processes writing the same entry never leave a torn file; a file that does not parse
or does not carry the expected key is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

FORMAT = 1


@lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """Hash of the IR and codegen sources: generated code depends on nothing else."""
    import torchtrek
    from .. import codegen, ir

    h = hashlib.sha256(f"{torchtrek.__version__}/{FORMAT}".encode())
    for pkg in (ir, codegen):
        root = Path(pkg.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".j2"):
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    env = os.environ.get("TORCHTREK_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "torchtrek"


def enabled() -> bool:
    return os.environ.get("TORCHTREK_CACHE", "1") != "0"


def make_key(*parts: str) -> str:
    h = hashlib.sha256(compiler_fingerprint().encode())
    for p in parts:
        h.update(b"\0" + p.encode())
    return h.hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.json"


def load(key: str) -> dict[str, Any] | None:
    path = _path(key)
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
        if not isinstance(entry, dict) or entry.get("key") != key or "payload" not in entry:
            raise ValueError("foreign or truncated entry")
        return entry["payload"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        _remove(path)  # corrupt: drop it; the caller regenerates and rewrites
        return None


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        pass


def store(key: str, payload: dict[str, Any]) -> None:
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"key": key, "payload": payload}, f)
        if path.is_dir():
            _remove(path)  # something foreign in the entry's place
        os.replace(tmp, path)  # atomic: readers see the old file or the new one
    except OSError:
        pass  # a read-only or full disk only costs the cache


def _entries(root: Path) -> list[Path]:
    # a writer killed mid-store leaves a .tmp- file: not an entry
    return ([p for p in root.rglob("*.json") if p.is_file() and not p.name.startswith(".tmp-")]
            if root.exists() else [])


def info() -> dict[str, Any]:
    root = cache_dir()
    files = _entries(root)
    return {"path": str(root), "entries": len(files),
            "bytes": sum(p.stat().st_size for p in files)}


def clear() -> int:
    """Remove every entry (and anything foreign in an entry's place); returns how many."""
    root = cache_dir()
    n = 0
    if root.exists():
        for p in list(root.rglob("*.json")):
            n += p.is_file()
            _remove(p)
    return n
