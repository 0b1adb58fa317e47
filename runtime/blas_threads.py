"""One thread pool for NumPy's matmuls and the C kernels: OpenBLAS hands its threaded jobs
to libgomp's threads (the ones the kernels' `#pragma omp parallel` use) through OpenBLAS's
caller-managed threading hook, `openblas_set_threads_callback_function` (OpenBLAS 0.3.27+;
NumPy's wheels ship it as `scipy_openblas_set_threads_callback_function64_`).

Why: with two pools, each hands the cores to the other badly. After every matmul
OpenBLAS's idle workers spin (a sched_yield loop) for ~100 ms on the core a kernel's second
thread needs, and libgomp's spinning workers in turn take it from the next matmul, so
libgomp was told to spin briefly (GOMP_SPINCOUNT=1000) and every kernel and matmul then woke
a sleeping thread. With one pool the workers go from a matmul to a kernel to the next
matmul hot: a 4-layer GPT training step (benchmarks/gpt_bench.py, 2-core box) compiled
26.3 -> 24 ms, eager 35.5 -> 33 ms.

Where it applies: NumPy's OpenBLAS built with its own pthreads server and exporting the hook,
and an OpenMP C compiler (the kernels'). Elsewhere nothing changes.
TORCHTREK_BLAS_THREADS=openblas keeps OpenBLAS's own threads.

Safety: OpenBLAS's per-thread buffers are indexed by job number, so calls from different
Python threads take turns (a mutex); a job of one call that starts another (nested), or a
call made inside an OpenMP region, runs its jobs on threads of their own (the jobs of one
call wait on each other: they must all run at once). A forked child goes back to OpenBLAS's
threads (libgomp's pool does not survive a fork).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
from functools import lru_cache
from typing import Any

from . import disk_cache, openblas

SOURCE = r"""
/* OpenBLAS's threaded jobs on libgomp's threads (runtime/blas_threads.py). */
#include <omp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

typedef void (*tt_dojob)(int thread_num, void *job, int arg);
typedef struct { tt_dojob dojob; char *jobs; size_t size; int arg, i; } tt_job;

static pthread_mutex_t tt_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int tt_inside;  /* this thread runs a job: a call from it is nested */

static void tt_run(tt_dojob dojob, char *jobs, size_t size, int arg, int i) {
  tt_inside = 1;
  dojob(i, jobs + (size_t)i * size, arg);
  tt_inside = 0;
}

static void *tt_thread(void *p) {
  tt_job *j = (tt_job *)p;
  tt_run(j->dojob, j->jobs, j->size, j->arg, j->i);
  return NULL;
}

/* all jobs at once on threads of their own (job 0 on this one) */
static void tt_on_pthreads(tt_dojob dojob, char *jobs, int n, size_t size, int arg) {
  pthread_t *t = n > 1 ? malloc(sizeof(pthread_t) * (size_t)n) : NULL;
  tt_job *j = n > 1 ? malloc(sizeof(tt_job) * (size_t)n) : NULL;
  char *started = n > 1 ? calloc((size_t)n, 1) : NULL;
  if (n > 1 && (t == NULL || j == NULL || started == NULL)) {
    /* no memory for the bookkeeping: the jobs must still run at once; OpenMP's team it is */
    #pragma omp parallel num_threads(n)
    tt_run(dojob, jobs, size, arg, omp_get_thread_num());
  } else {
    for (int i = 1; i < n; i++) {
      j[i] = (tt_job){dojob, jobs, size, arg, i};
      started[i] = pthread_create(&t[i], NULL, tt_thread, &j[i]) == 0;
    }
    tt_run(dojob, jobs, size, arg, 0);
    for (int i = 1; i < n; i++)
      if (started[i]) pthread_join(t[i], NULL);
  }
  free(t);
  free(j);
  free(started);
}

void tt_blas_threads(int sync, tt_dojob dojob, int n, size_t size, void *jobs, int arg) {
  (void)sync;
  int was_inside = tt_inside;
  if (was_inside || omp_in_parallel()) {  /* nested: the outer call holds the lock */
    tt_on_pthreads(dojob, (char *)jobs, n, size, arg);
    tt_inside = was_inside;
    return;
  }
  pthread_mutex_lock(&tt_lock);
  if (n > 1 && !omp_get_dynamic() && omp_get_thread_limit() >= n) {
    #pragma omp parallel num_threads(n)
    tt_run(dojob, (char *)jobs, size, arg, omp_get_thread_num());
  } else {
    tt_on_pthreads(dojob, (char *)jobs, n, size, arg);
  }
  pthread_mutex_unlock(&tt_lock);
}
"""


@lru_cache(maxsize=1)
def _hook() -> Any:
    """NumPy's OpenBLAS's set-callback function, where it has one and runs its own pthreads
    (an OpenMP-built OpenBLAS already shares libgomp's pool); else None."""
    if os.environ.get("TORCHTREK_BLAS_THREADS") == "openblas" or openblas.threading() != 1:
        return None
    hook = openblas.function("openblas_set_threads_callback_function")
    if hook is not None:
        hook.argtypes, hook.restype = [ctypes.c_void_p], None
    return hook


def available() -> bool:
    """Whether the kernels and NumPy's matmuls can share one pool here (cheap: no compile)."""
    return _hook() is not None


# the callback's library (kept loaded while OpenBLAS calls it); "forked": a forked child,
# which keeps OpenBLAS's own threads; "at_fork": the child's handler is registered
_state: dict[str, Any] = {"lib": None, "forked": False, "at_fork": False}


def install() -> bool:
    """Give OpenBLAS's threaded jobs to libgomp's threads, once per process (the callback
    is built once per compiler and cached on disk). False where it does not apply."""
    if _state["lib"] is not None:
        return True
    hook = _hook()
    if hook is None or _state["forked"]:
        return False
    from .native import CompileError, compile_shared, compiler

    cc = compiler()
    if cc is None:
        return False
    flags = ["-O2", "-std=c11", "-shared", "-fPIC", "-fopenmp"]
    key = hashlib.sha256("\0".join([SOURCE, os.path.realpath(cc), *flags]).encode())
    path = disk_cache.cache_dir() / "native" / f"_tt_blas_threads-{key.hexdigest()[:24]}.so"
    try:
        if not path.exists():
            compile_shared(cc, flags, SOURCE, path, libs=["-lpthread"])
        lib = ctypes.CDLL(str(path))
    except (OSError, CompileError, subprocess.SubprocessError):
        return False
    hook(ctypes.cast(lib.tt_blas_threads, ctypes.c_void_p))
    _state["lib"] = lib
    if hasattr(os, "register_at_fork") and not _state["at_fork"]:
        os.register_at_fork(after_in_child=_in_forked_child)
        _state["at_fork"] = True
    return True


def _in_forked_child() -> None:
    """Back to OpenBLAS's own threads for good (libgomp's pool stayed in the parent)."""
    _state["forked"] = True
    uninstall()


def uninstall() -> None:
    """OpenBLAS's own threads again."""
    hook = _hook()
    if hook is not None and _state["lib"] is not None:
        hook(None)
        _state["lib"] = None


def installed() -> bool:
    return _state["lib"] is not None
