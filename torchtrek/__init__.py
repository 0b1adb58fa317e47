"""TorchTrek: PyTorch-style code traced to a typed IR, differentiated symbolically and
emitted as readable NumPy source. `import torchtrek as tt`."""

from __future__ import annotations

import math as _math

from . import ir as _ir_pkg  # noqa: F401  (the IR package: torchtrek.ir)
from .ir import ops as _ops  # noqa: F401  (registers every op)
from .ir.dtypes import DType as dtype
from .ir.dtypes import (
    bool_ as bool,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from .devices import cuda, device
from .tensor import Size, Tensor
from .tracer import TraceError
from .autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                       set_grad_enabled)
from .functional import *  # noqa: F401,F403
from .functional import get_default_dtype, set_default_dtype, result_type
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    from_numpy,
    full,
    full_like,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    linspace,
    eye,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
    Generator,
    bernoulli,
    logspace,
    multinomial,
    normal,
    randperm,
    scalar_tensor,
    tril_indices,
    triu_indices,
)
from . import ops as _families
from .ops.indexing import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.math import *  # noqa: F401,F403
from .ops.reductions import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.sorting import *  # noqa: F401,F403
from .ops.composite import *  # noqa: F401,F403
from .compiler import grad, trace, value_and_grad
from .explain import explain
from .export import export
from . import autograd, debug, nn
from . import optim
from . import linalg
from . import utils
from . import accelerator, amp, backends, distributed, onnx
from ._legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
                      IntTensor, LongTensor, ShortTensor)
from .amp import autocast
from .ir.dtypes import bfloat16, complex32, complex64, complex128
from . import serialization
from .serialization import save
from .serialization import load
from ._as_torch import install_as_torch
from ._compile import compile
from .runtime import memory as _memory

def _attach_methods() -> None:
    from .tensor import _method

    for family in _families.FAMILIES:
        for entry in family.METHODS:
            items = entry.items() if isinstance(entry, dict) else [(entry, getattr(family, entry))]
            for name, fn in items:
                setattr(Tensor, name, _method(fn))
    for fn in (nn.functional.softmax, nn.functional.log_softmax):
        setattr(Tensor, fn.__name__, _method(fn))


_attach_methods()
_memory.keep_freed_blocks()  # (freed large arrays stay for reuse: runtime/memory.py)

# torch.softmax(x, dim) and x.softmax(dim) (log_softmax too) are nn.functional's, as in torch
softmax = nn.functional.softmax
log_softmax = nn.functional.log_softmax

half = float16
float = float32
double = float64
long = int64
int = int32
short = int16

__version__ = "0.1.0"


def is_tensor(x: object) -> bool:
    return isinstance(x, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()


def promote_types(a: dtype, b: dtype) -> dtype:
    from .ir.dtypes import promote_types as _p

    return _p(a, b)


cfloat, cdouble = complex64, complex128
inf, nan, pi, e = _math.inf, _math.nan, _math.pi, _math.e


def __getattr__(name: str) -> object:
    from ._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
