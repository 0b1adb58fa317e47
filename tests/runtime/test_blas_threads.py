"""runtime/blas_threads.py: NumPy's OpenBLAS runs its threaded jobs on libgomp's threads once
a C kernel library is loaded. Same results bit for bit, calls from several Python threads
take their turn, a call that cannot have an OpenMP team runs on threads of its own, a forked
child goes back to OpenBLAS's threads, TORCHTREK_BLAS_THREADS=openblas opts out; and the
reason for it, counted in CPU time rather than seconds of a step: OpenBLAS's own workers
no longer spin on a core for ~100 ms after each matmul."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from torchtrek.runtime import blas_threads, native

pytestmark = [
    pytest.mark.skipif(not blas_threads.available(),
                       reason="NumPy's BLAS is not a pthreads OpenBLAS with the threading hook"),
    pytest.mark.skipif(not native.available(), reason="no C compiler with OpenMP"),
    pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS threads only with 2+ cores"),
]

SHAPES = [((1024, 1024), (1024, 1024)), ((512, 128), (128, 512)), ((8, 64, 128), (128, 384)),
          ((300, 257), (257, 129))]


def _operands(dtype: type = np.float32) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(a).astype(dtype), rng.standard_normal(b).astype(dtype))
            for a, b in SHAPES]


def _run(code: str, **env: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_products_bit_for_bit(dtype: type) -> None:
    ops = _operands(dtype)
    blas_threads.uninstall()
    theirs = [a @ b for a, b in ops] + [ops[0][0].T @ ops[0][1]]
    assert blas_threads.install() and blas_threads.installed()
    ours = [a @ b for a, b in ops] + [ops[0][0].T @ ops[0][1]]
    for t, o in zip(theirs, ours):
        np.testing.assert_array_equal(o, t)


def test_python_threads_take_turns() -> None:
    ops = _operands()
    blas_threads.uninstall()
    want = [a @ b for a, b in ops]
    assert blas_threads.install()
    bad: list[int] = []

    def work(k: int) -> None:
        for r in range(6):
            i = (k + r) % len(ops)
            if not np.array_equal(ops[i][0] @ ops[i][1], want[i]):
                bad.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a matmul hung"
    assert bad == []


def test_kernels_install_it_and_the_switch_opts_out() -> None:
    code = ("import torchtrek as tt\nfrom torchtrek.runtime import blas_threads\n"
            "f = tt.compile(lambda x: (x * 2 + 1).exp(), backend='c')\n"
            "f(tt.randn(64, 64))\nprint(blas_threads.installed())")
    assert _run(code).split() == ["True"]
    assert _run(code, TORCHTREK_BLAS_THREADS="openblas").split() == ["False"]


def test_no_openmp_team_runs_the_jobs_on_threads_of_their_own() -> None:
    # OMP_THREAD_LIMIT=1: libgomp cannot give a call its two threads (jobs wait on each
    # other, so one thread would hang): the callback starts threads itself
    code = ("import numpy as np\nfrom torchtrek.runtime import blas_threads\n"
            "rng = np.random.default_rng(0)\n"
            "a = rng.standard_normal((1024, 1024)).astype(np.float32)\n"
            "want = a @ a\nassert blas_threads.install()\n"
            "print(np.array_equal(a @ a, want), blas_threads.installed())")
    assert _run(code, OMP_THREAD_LIMIT="1").split() == ["True", "True"]


def _child(q: "multiprocessing.Queue[tuple[bool, bool]]") -> None:
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    want = a.astype(np.float64) @ a.astype(np.float64)
    ok = bool(np.allclose(a @ a, want, rtol=1e-3, atol=1e-2))
    q.put((ok, blas_threads.installed()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_forked_child_uses_openblas_threads() -> None:
    assert blas_threads.install()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(timeout=120)
    assert p.exitcode == 0, "the forked child's matmul failed or hung"
    assert q.get(timeout=10) == (True, False)


SPIN = """
import resource, time, numpy as np
from torchtrek.runtime import blas_threads
if {install}:
    assert blas_threads.install()
a = np.ones((512, 512), np.float32)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
burnt = []
for _ in range(3):
    a @ a
    c0 = cpu()
    time.sleep(0.2)
    burnt.append(cpu() - c0)
print(min(burnt) * 1e3)
"""


def test_no_thread_spins_long_after_a_matmul() -> None:
    # OpenBLAS's own idle workers spin ~100 ms after a call (a core taken from the kernels'
    # threads); libgomp's stop after GOMP_SPINCOUNT (30000 iterations, well under 20 ms)
    ours = float(_run(SPIN.format(install=True), GOMP_SPINCOUNT="30000"))
    assert ours < 20, f"{ours:.1f} ms of CPU while the process slept 200 ms after a matmul"
