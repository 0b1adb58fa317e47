"""runtime/fpstate.py: floating-point warnings off between quiet() and restore(), nested,
per thread, the caller's own state back afterwards; eager and compiled code use it."""

from __future__ import annotations

import threading
import warnings

import numpy as np

import torchtrek as tt
from torchtrek.runtime import fpstate


def test_quiet_restore_nests_and_gives_the_state_back():
    with np.errstate(over="raise", divide="warn"):
        before = np.geterr()
        outer = fpstate.quiet()
        assert set(np.geterr().values()) == {"ignore"}
        inner = fpstate.quiet()
        np.float32(3e38) * np.float32(10)  # no error, no warning
        fpstate.restore(inner)
        assert set(np.geterr().values()) == {"ignore"}
        fpstate.restore(outer)
        assert np.geterr() == before


def test_other_threads_keep_their_state():
    seen = {}
    token = fpstate.quiet()
    try:
        t = threading.Thread(target=lambda: seen.update(np.geterr()))
        t.start()
        t.join()
    finally:
        fpstate.restore(token)
    assert seen["over"] != "ignore"


def test_eager_and_compiled_overflow_without_warnings_and_the_users_state_kept():
    big = tt.tensor(np.full(4, 3e38, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"):
            assert np.isinf((big * 10).numpy()).all()  # the eager fast path
            assert np.isnan((tt.zeros(3) / 0).numpy()).all()
            f = tt.compile(lambda x: x * 10, backend="numpy")
            assert np.isinf(f(big).numpy()).all()
            assert np.geterr()["over"] == "warn"
