"""NumPy's floating-point warnings off around generated code, cheaply.

Generated code runs with overflow / invalid / divide warnings off (torch gives inf and nan
without a word). `with np.errstate(all="ignore")` costs ~1 µs: it builds NumPy's error
state object at every entry, a third of an eager `x * 2`. `quiet()` sets a state built once
and returns the token that `restore(token)` resets: the same contextvar errstate uses (so
it is per thread and per task, and nests), at ~0.1 µs. Where NumPy's internals are not as
expected, both fall back to np.errstate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # NumPy >= 2.0 keeps its error state in a contextvar
    from numpy._core._ufunc_config import _extobj_contextvar
    from numpy._core.umath import _make_extobj

    _QUIET = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):  # pragma: no cover - other NumPy layouts
    _extobj_contextvar = None


def quiet() -> Any:
    """Warnings off; the token to pass to restore()."""
    if _extobj_contextvar is not None:
        return _extobj_contextvar.set(_QUIET)
    state = np.errstate(all="ignore")
    state.__enter__()
    return state


def restore(token: Any) -> None:
    """The error state from before quiet() gave `token`."""
    if _extobj_contextvar is not None:
        _extobj_contextvar.reset(token)
    else:
        token.__exit__(None, None, None)
