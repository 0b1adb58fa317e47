"""Front-end functions of the reductions family, lowered to registry ops through `bind`.

sum, mean, amax, argmax and max live in torchtrek/functional.py. Here: prod, amin, min,
argmin, aminmax, var/std (and var_mean/std_mean), norm, logsumexp, cumsum, cumprod,
all, any, count_nonzero. Argument conventions, result dtypes and error messages follow
torch 2.13.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

import numpy as np

from .. import functional as F
from .. import return_types
from .._dispatch import bind
from ..ir import dtypes
from ..ir.dtypes import DType
from ..ir.ops.reductions import reduced_shape
from ..ir.shapes import DimIndexError, normalize_dim, normalize_dims
from ..ir.symdims import is_symbolic

__all__: list[str] = [
    "prod", "amin", "min", "argmin", "aminmax", "var", "std", "var_mean", "std_mean",
    "norm", "logsumexp", "cumsum", "cumprod", "all", "any", "count_nonzero",
]
METHODS: list[Any] = [
    "prod", "amin", "min", "argmin", "aminmax", "var", "std", "norm", "logsumexp", "cumsum",
    "cumprod", "all", "any", "count_nonzero",
]

Dim = int | Sequence[int] | None

_min_result = return_types.min
_aminmax_result = return_types.aminmax

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
               "uint8": "Byte", "bool": "Bool", "float32": "Float", "float64": "Double",
               "float16": "Half"}


def _is_tensor(x: Any) -> bool:
    from ..tensor import Tensor

    return isinstance(x, Tensor)


def _check_tensor(fn: str, x: Any) -> None:
    if not _is_tensor(x):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")


def _dims(dim: Dim, ndim: int) -> tuple[int, ...]:
    """torch's reduction dims: None or an empty list mean every dim."""
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    if isinstance(dim, (list, tuple)):
        seen: set[int] = set()
        for d in dim:
            nd = normalize_dim(d, ndim)
            if nd in seen:
                raise RuntimeError(f"dim {nd} appears multiple times in the list of dims")
            seen.add(nd)
    return normalize_dims(dim, ndim)


def _int_dim(fn: str, dim: Any) -> None:
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{fn}() received an invalid combination of arguments - got "
                        f"(Tensor, {type(dim).__name__}); dim must be an int")


def _alias(x: Any, grad_name: str | None = None) -> Any:
    return bind("reshape", [x], {"shape": tuple(x.shape)}, grad_name=grad_name)


def _squeeze_to(x: Any, shape: tuple[int, ...], grad_name: str | None = None) -> Any:
    if tuple(x.shape) == shape:
        return x
    return bind("reshape", [x], {"shape": shape}, grad_name=grad_name)


# ----------------------------------------------------------------- prod


def prod(x: Any, dim: int | None = None, keepdim: bool = False, *,
         dtype: DType | None = None) -> Any:
    """Product of the elements (over one dim when given); ints and bools give int64.
    The gradient is exact where the input has zeros."""
    _check_tensor("prod", x)
    if dim is not None:
        _int_dim("prod", dim)
    if dtype is not None:
        x = F.cast(x, dtype)
    dims = normalize_dims(dim, x.ndim)
    return bind("prod", [x], {"dims": dims, "keepdim": bool(keepdim)},
                grad_name="ProdBackward0" if dim is None else "ProdBackward1")


# ----------------------------------------------------------------- min family


def _check_nonempty(fn: str, x: Any, dim: Any, dims: tuple[int, ...], sep: str = "():",
                    shown: Any = None) -> None:
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        if x.numel() == 0:
            raise RuntimeError(
                f"{fn}{sep} Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument.")
        return
    for d in dims:
        if x.shape[d] == 0:
            raise DimIndexError(f"{fn}{sep} Expected reduction dim "
                                f"{d if shown is None else shown} to have non-zero size.")


def amin(x: Any, dim: Dim = None, keepdim: bool = False) -> Any:
    """Smallest values over `dim` (all dims by default); ties share the gradient."""
    _check_tensor("amin", x)
    dims = _dims(dim, x.ndim)
    shown = dim if isinstance(dim, int) else None
    _check_nonempty("amin", x, dim, dims, shown=shown)
    return bind("amin", [x], {"dims": dims, "keepdim": bool(keepdim)})


def _select(fn: str, arg_op: str, x: Any, dim: int, keepdim: bool) -> tuple[Any, Any]:
    """(values, indices) of torch.min/max(x, dim): the gradient goes to the index."""
    d = normalize_dim(dim, x.ndim)
    src = x if x.ndim else F.reshape(x, (1,))
    _check_nonempty(fn, src, d, (d,))
    idx = bind(arg_op, [src], {"dim": d, "keepdim": True})
    name = fn.capitalize() + "Backward0"
    out_shape = reduced_shape(tuple(x.shape), (d,), bool(keepdim)) if x.ndim else ()
    values = bind("argselect", [src, idx], {"dim": d},
                  grad_name=name if tuple(idx.shape) == out_shape else None)
    return _squeeze_to(values, out_shape, name), _squeeze_to(idx, out_shape)


def min(x: Any, dim: Any = None, keepdim: Any = None) -> Any:
    """torch.min(x): the smallest value; torch.min(x, dim, keepdim=False): a
    (values, indices) named tuple, the gradient going to the selected index only."""
    _check_tensor("min", x)
    if _is_tensor(dim):
        import torchtrek

        minimum = getattr(torchtrek, "minimum", None)
        if minimum is None:
            raise NotImplementedError("tt.min(x, other) (elementwise) is not supported yet")
        return minimum(x, dim)
    if dim is None:
        if keepdim is not None:
            raise TypeError("min() received an invalid combination of arguments - got "
                            "(Tensor, keepdim=bool); keepdim needs a dim")
        _check_nonempty("min", x, None, ())
        return bind("amin", [x], {"dims": tuple(range(x.ndim)), "keepdim": False},
                    grad_name="MinBackward1")
    _int_dim("min", dim)
    return _min_result(*_select("min", "argmin", x, dim, bool(keepdim)))


def argmin(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """Index of the smallest value (of the flattened tensor when dim is None); int64."""
    _check_tensor("argmin", x)
    if dim is None:
        if x.numel() == 0:
            raise DimIndexError("argmin(): Expected reduction dim to be specified for "
                                "input.numel() == 0.")
        idx = bind("argmin", [F.reshape(x, (-1,))], {"dim": 0, "keepdim": False})
        return F.reshape(idx, (1,) * x.ndim) if keepdim else idx
    _int_dim("argmin", dim)
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return F.reshape(bind("argmin", [F.reshape(x, (1,))], {"dim": 0, "keepdim": False}), ())
    _check_nonempty("argmin", x, d, (d,))
    return bind("argmin", [x], {"dim": d, "keepdim": bool(keepdim)})


def aminmax(x: Any, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """(min, max) named tuple; like amin and amax, ties share the gradient."""
    _check_tensor("aminmax", x)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        dims = tuple(range(x.ndim))
    else:
        _int_dim("aminmax", dim)
        d = normalize_dim(dim, x.ndim)
        dims = (d,) if x.ndim else ()
        _check_nonempty("aminmax", x, d, dims, sep=":")
    attrs = {"dims": dims, "keepdim": bool(keepdim)}
    return _aminmax_result(bind("amin", [x], attrs), bind("amax", [x], attrs))


# ----------------------------------------------------------------- var / std


def _correction(fn: str, dim: Any, unbiased: Any, correction: Any) -> tuple[Any, float]:
    if isinstance(dim, bool):  # torch.var(x, False): the unbiased flag, positionally
        dim, unbiased = None, dim if unbiased is None else unbiased
    if unbiased is not None and correction is not None:
        raise TypeError(f"{fn}() received an invalid combination of arguments - got both "
                        "unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, float(correction)


def _var(fn: str, x: Any, dim: Any, unbiased: Any, keepdim: bool, correction: Any) -> Any:
    _check_tensor(fn, x)
    if not x.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dim, c = _correction(fn, dim, unbiased, correction)
    dims = _dims(dim, x.ndim)
    n = 1
    for d in dims:
        n *= x.shape[d]
    # torch clamps the degrees of freedom at 0 (giving inf or nan)
    # (a symbolic size is at least 2, so n - c > 0 for the usual c <= 1)
    dof = n - c if is_symbolic(n) and c <= 1 else builtins.max(0.0, n - c)
    attrs = {"dims": dims, "keepdim": bool(keepdim), "count": n, "dof": dof}
    return bind(fn[:3], [x], attrs, grad_name=fn[:3].capitalize() + "Backward0")


def var(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Any:
    """Variance over `dim` with `correction` (default 1, Bessel's); `unbiased=False`
    means correction=0."""
    return _var("var", x, dim, unbiased, keepdim, correction)


def std(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Any:
    """Standard deviation: sqrt(var(...)) with var's arguments."""
    return _var("std", x, dim, unbiased, keepdim, correction)


def var_mean(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple[Any, Any]:
    """(var, mean) over the same dims."""
    v = var(x, dim, unbiased, keepdim, correction=correction)
    d, _ = _correction("var_mean", dim, unbiased, correction)
    return v, F.mean(x, _dims(d, x.ndim) or None, keepdim=bool(keepdim))


def std_mean(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple[Any, Any]:
    """(std, mean) over the same dims."""
    s = std(x, dim, unbiased, keepdim, correction=correction)
    d, _ = _correction("std_mean", dim, unbiased, correction)
    return s, F.mean(x, _dims(d, x.ndim) or None, keepdim=bool(keepdim))


# ----------------------------------------------------------------- norm


def norm(x: Any, p: Any = "fro", dim: Dim = None, keepdim: bool = False, *,
         dtype: DType | None = None) -> Any:
    """Vector p-norm over `dim` (every element by default): p = 2 / 'fro' (default),
    1, inf, -inf, 0 or any other float. The gradient at a zero norm is 0, as torch's."""
    _check_tensor("norm", x)
    if dtype is not None:
        x = F.cast(x, dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {_TYPE_NAMES[x.dtype.name]}")
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm(p='nuc') needs singular values (an SVD), which "
                                      "TorchTrek does not have yet")
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if isinstance(dim, (list, tuple)) and len(dim) > 2:
            raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got "
                               + " ".join(str(d) for d in dim))
        p = 2.0
    p = float(p)
    dims = _dims(dim, x.ndim)
    keep = bool(keepdim)
    if (p < 0 or math.isinf(p)) and builtins.any(x.shape[d] == 0 for d in dims):
        if dim is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty "
                               "tensor because the operation does not have an identity")
        d = next(d for d in dims if x.shape[d] == 0)
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on the "
                           f"dimension {d}because this dimension is empty and the operation "
                           "does not have an identity")
    name = "LinalgVectorNormBackward0"
    if p == 1:
        return bind("sum", [F.abs(x)], {"dims": dims, "keepdim": keep}, grad_name=name)
    if math.isinf(p):
        return bind("amax" if p > 0 else "amin", [F.abs(x)], {"dims": dims, "keepdim": keep},
                    grad_name=name)
    return bind("pnorm", [x], {"p": p, "dims": dims, "keepdim": keep}, grad_name=name)


# ----------------------------------------------------------------- logsumexp


def logsumexp(x: Any, dim: Dim, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) over `dim`, shifted by the (detached) max so that it neither
    overflows nor underflows; its gradient is softmax(x)."""
    _check_tensor("logsumexp", x)
    if not x.dtype.is_floating_point:
        x = F.cast(x, F.get_default_dtype())
    dims = _dims(dim, x.ndim)
    out_shape = reduced_shape(tuple(x.shape), dims, bool(keepdim))
    if builtins.any(x.shape[d] == 0 for d in dims):  # sum of nothing: log(0) = -inf, no shift
        s = F.sum(F.exp(x), dims, keepdim=bool(keepdim))
        return bind("log", [s], grad_name="LogsumexpBackward0")
    m = F.detach(bind("amax", [x], {"dims": dims, "keepdim": True}))
    # an infinite max would give inf - inf = nan: shift by 0 there instead
    m = F.where(F.le(F.abs(m), float(np.finfo(x.dtype.name).max)), m, 0.0)
    s = F.sum(F.exp(F.sub(x, m)), dims, keepdim=True)
    out = F.add(F.log(s), m)
    if tuple(out.shape) == out_shape:
        return _alias(out, "LogsumexpBackward0")
    return bind("reshape", [out], {"shape": out_shape}, grad_name="LogsumexpBackward0")


# ----------------------------------------------------------------- cumsum / cumprod


def _scan(op: str, x: Any, dim: int, dtype: DType | None) -> Any:
    _check_tensor(op, x)
    _int_dim(op, dim)
    if dtype is not None:
        x = F.cast(x, dtype)
    elif not x.dtype.is_floating_point:
        x = F.cast(x, dtypes.int64)  # torch: integer and bool scans give int64
    d = normalize_dim(dim, x.ndim)
    name = op.capitalize() + "Backward0"
    if x.ndim == 0:
        y = bind(op, [F.reshape(x, (1,))], {"dim": 0, **_scan_attrs(op)})
        return bind("reshape", [y], {"shape": ()}, grad_name=name)
    return bind(op, [x], {"dim": d, **_scan_attrs(op)}, grad_name=name)


def _scan_attrs(op: str) -> dict[str, Any]:
    return {"reverse": False} if op == "cumsum" else {}


def cumsum(x: Any, dim: int, *, dtype: DType | None = None) -> Any:
    """Running sum along `dim`; integer and bool inputs give int64."""
    return _scan("cumsum", x, dim, dtype)


def cumprod(x: Any, dim: int, *, dtype: DType | None = None) -> Any:
    """Running product along `dim`; the gradient is exact where the input has zeros."""
    return _scan("cumprod", x, dim, dtype)


# ----------------------------------------------------------------- all / any / count_nonzero


def _logical_reduce(op: str, x: Any, dim: Dim, keepdim: bool) -> Any:
    _check_tensor(op, x)
    b = x if x.dtype is dtypes.bool_ else F.ne(x, 0)
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        r = b if b is not x else _alias(x)  # torch: an empty dim list reduces nothing
    else:
        dims = _dims(dim, x.ndim)
        r = bind(op, [b], {"dims": dims, "keepdim": bool(keepdim)})
    return F.cast(r, dtypes.uint8) if x.dtype is dtypes.uint8 else r


def all(x: Any, dim: Dim = None, keepdim: bool = False) -> Any:
    """True where every element (over `dim`) is non-zero; bool (uint8 for uint8 input)."""
    return _logical_reduce("all", x, dim, keepdim)


def any(x: Any, dim: Dim = None, keepdim: bool = False) -> Any:
    """True where some element (over `dim`) is non-zero; bool (uint8 for uint8 input)."""
    return _logical_reduce("any", x, dim, keepdim)


def count_nonzero(x: Any, dim: Dim = None) -> Any:
    """Number of non-zero elements over `dim` (all by default), as int64."""
    _check_tensor("count_nonzero", x)
    return F.sum(F.ne(x, 0), _dims(dim, x.ndim) or None)
