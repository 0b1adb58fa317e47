"""Calling the C backend's kernels cheaply: `_call(address, *arrays)` in the generated code.

ctypes costs about 1 µs per pointer argument (every `a.ctypes.data` builds an object) and
1-2 µs per call: 10 µs for a typical kernel, 2-3 ms of a 4-layer GPT training step's 270
kernel calls. The trampoline here is a small CPython extension built once with the same C
compiler (against this Python's headers): it reads each array's data pointer from the
ndarray object (NumPy's PyArrayObject starts with the object header, then `char *data`;
that layout is NumPy's public struct) and calls the kernel with the GIL released, as
ctypes does. Where it cannot be built (no Python.h), the same `_call` goes through ctypes.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import sysconfig
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from . import disk_cache

MAX_ARGS = 64  # kernel arguments the trampoline takes (more: ctypes)

_TEMPLATE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* NumPy's PyArrayObject begins so (numpy/ndarraytypes.h: PyArrayObject_fields) */
typedef struct { PyObject_HEAD char *data; } tt_array_head;
static PyTypeObject *tt_ndarray = NULL;

static PyObject *tt_set_ndarray(PyObject *self, PyObject *type) {
  if (!PyType_Check(type)) { PyErr_SetString(PyExc_TypeError, "expected numpy.ndarray"); return NULL; }
  Py_INCREF(type);
  tt_ndarray = (PyTypeObject *)type;
  Py_RETURN_NONE;
}

/* call(address, *arrays): the kernel at `address` with each array's data pointer */
static PyObject *tt_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  void *p[MAX_ARGS];
  if (nargs < 2 || nargs - 1 > MAX_ARGS) {
    PyErr_Format(PyExc_TypeError, "_call takes a kernel address and 1 to %d arrays, got %zd arguments",
                 MAX_ARGS, nargs);
    return NULL;
  }
  void *f = PyLong_AsVoidPtr(args[0]);
  if (f == NULL) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "_call: null kernel address");
    return NULL;
  }
  for (Py_ssize_t i = 1; i < nargs; i++) {
    if (tt_ndarray == NULL || !PyObject_TypeCheck(args[i], tt_ndarray)) {
      PyErr_Format(PyExc_TypeError, "_call: kernel argument %zd is a %s, not a numpy.ndarray",
                   i - 1, Py_TYPE(args[i])->tp_name);
      return NULL;
    }
    p[i - 1] = ((tt_array_head *)args[i])->data;
  }
  Py_BEGIN_ALLOW_THREADS
  switch (nargs - 1) {
CASES
  }
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyMethodDef tt_methods[] = {
  {"call", (PyCFunction)(void (*)(void))tt_call, METH_FASTCALL, "call(address, *arrays)"},
  {"set_ndarray", tt_set_ndarray, METH_O, "set_ndarray(numpy.ndarray)"},
  {NULL, NULL, 0, NULL}
};
static struct PyModuleDef tt_module = {PyModuleDef_HEAD_INIT, "_tt_call", NULL, -1, tt_methods};
PyMODINIT_FUNC PyInit__tt_call(void) { return PyModule_Create(&tt_module); }
"""


def source() -> str:
    """The trampoline's C source: one case per argument count."""
    cases = []
    for n in range(1, MAX_ARGS + 1):
        params = ", ".join(["void *"] * n)
        args = ", ".join(f"p[{i}]" for i in range(n))
        cases.append(f"    case {n}: ((void (*)({params}))f)({args}); break;")
    return _TEMPLATE.replace("MAX_ARGS", str(MAX_ARGS)).replace("CASES", "\n".join(cases))


@lru_cache(maxsize=1)
def trampoline() -> Callable[..., None] | None:
    """The extension's `call`, built (once per Python and compiler, cached on disk) and
    loaded; None where it cannot be (then kernels are called through ctypes)."""
    if os.environ.get("TORCHTREK_KERNEL_CALL") == "ctypes":
        return None
    from .native import CompileError, compile_shared, compiler

    include = sysconfig.get_paths().get("include", "")
    cc = compiler()
    if cc is None or not os.path.exists(os.path.join(include, "Python.h")):
        return None
    src = source()
    key = hashlib.sha256("\0".join([src, sys.version, include, os.path.realpath(cc),
                                    sysconfig.get_config_var("EXT_SUFFIX") or ""]).encode())
    path = disk_cache.cache_dir() / "native" / f"_tt_call-{key.hexdigest()[:24]}.so"
    try:
        if not path.exists():
            compile_shared(cc, ["-O2", "-shared", "-fPIC", f"-I{include}"], src, path)
        loader = importlib.machinery.ExtensionFileLoader("_tt_call", str(path))
        spec = importlib.util.spec_from_file_location("_tt_call", str(path), loader=loader)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        loader.exec_module(module)
        module.set_ndarray(np.ndarray)
        return module.call
    except (OSError, ImportError, CompileError, subprocess.SubprocessError):
        return None


def addresses(lib: ctypes.CDLL, names: Sequence[str]) -> dict[str, int]:
    """Each kernel's address in the loaded library."""
    return {n: ctypes.cast(getattr(lib, n), ctypes.c_void_p).value or 0 for n in names}


def caller(lib: ctypes.CDLL, kernels: Sequence[tuple[str, int]],
           at: dict[str, int]) -> Callable[..., None]:
    """`_call(address, *arrays)` for `kernels` ((name, argument count) in `lib`, their
    `addresses` in `at`): the trampoline, or (without it, or for a kernel past MAX_ARGS
    arguments) ctypes."""
    fast = trampoline()
    by_address = {}
    for name, n_args in kernels:
        f = getattr(lib, name)
        f.argtypes, f.restype = [ctypes.c_void_p] * n_args, None
        by_address[at[name]] = f

    def through_ctypes(address: int, *arrays: Any) -> None:
        by_address[address](*[a.ctypes.data for a in arrays])

    if fast is None:
        return through_ctypes
    if all(n <= MAX_ARGS for _, n in kernels):
        return fast

    def call(address: int, *arrays: Any) -> None:
        (fast if len(arrays) <= MAX_ARGS else through_ctypes)(address, *arrays)

    return call
