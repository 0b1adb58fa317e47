"""torch.linalg: vector and matrix norms (decompositions are not supported)."""

from __future__ import annotations

from typing import Any

from .ir.dtypes import DType
from .ops.reductions import norm as _norm


def vector_norm(x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: DType | None = None) -> Any:
    """The `ord` vector norm over `dim` (all elements by default), as torch.linalg.vector_norm."""
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Expected a number as ord, got {ord!r}")
    return _norm(x, ord, dim, keepdim, dtype=dtype)


def matrix_norm(x: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                dtype: DType | None = None) -> Any:
    if ord != "fro":
        raise NotImplementedError(f"torch.linalg.matrix_norm(ord={ord!r}) is not supported by "
                                  "TorchTrek (only 'fro')")
    return _norm(x, "fro", tuple(dim), keepdim, dtype=dtype)


def norm(x: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
         dtype: DType | None = None) -> Any:
    """torch.linalg.norm: the 2-norm of the flattened input by default; `ord` with a 2-d `dim`
    is a matrix norm, otherwise a vector norm."""
    if ord is None:
        return _norm(x, 2.0, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (isinstance(dim, (tuple, list)) and len(dim) == 2) or (
            dim is None and x.ndim == 2):
        return matrix_norm(x, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(x, ord, dim, keepdim, dtype=dtype)


def __getattr__(name: str) -> Any:
    from ._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
