"""Fake pycuda.autoinit: a context on device 0, popped at exit."""

import atexit

from . import driver as cuda
from .tools import make_default_context

cuda.init()
context = make_default_context()
device = context.get_device()


def _finish_up():
    global context
    try:
        context.pop()
    except Exception:
        pass
    context = None


atexit.register(_finish_up)
