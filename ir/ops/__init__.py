"""Every op TorchTrek knows, declared once each, grouped by family.

Importing this package registers them all. core.py holds the primitives the pipeline
itself needs (arithmetic, casts, sum/amax, movement, matmul, where, full); each other
module adds one family.
"""

from . import (attention, core, distributed, indexing, linalg, math, nn, optim,  # noqa: F401
               reductions, rnn, shape, sorting)
from .core import infer_pointwise, sum_to

__all__ = ["infer_pointwise", "sum_to"]
