"""The tensor ops users call (`tt.exp(x)`, `x + 1`, `x.sum(1)`): PyTorch's argument
conventions and type promotion, lowered to registry ops through `bind`."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .ir import dtypes
from .ir.dtypes import DType, result_type_of
from .ir.graph import Literal
from .ir.shapes import infer_reshape, normalize_dim, normalize_dims
from .ir.symdims import is_symbolic
from ._dispatch import Const, _tensor_cls, bind, fast_binary

__all__ = [
    "add", "sub", "mul", "div", "true_divide", "divide", "multiply", "subtract", "pow", "neg",
    "negative", "exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt", "relu", "abs",
    "absolute", "where", "gt", "lt", "ge", "le", "eq", "ne", "greater", "less",
    "greater_equal", "less_equal", "not_equal", "logical_and", "logical_or", "logical_not",
    "sum", "mean", "matmul", "reshape", "flatten", "unsqueeze", "squeeze", "permute",
    "transpose", "swapaxes", "swapdims", "t", "broadcast_to", "detach", "cast",
]

_default_dtype: DType = dtypes.float32


def get_default_dtype() -> DType:
    return _default_dtype


def set_default_dtype(d: DType) -> None:
    global _default_dtype
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d




def scalar_dtype(v: Any) -> DType:
    if isinstance(v, np.generic) and not isinstance(v, np.datetime64 | np.timedelta64):
        v = v.item()  # NumPy scalars count as Python numbers, as in torch
    if isinstance(v, bool):
        return dtypes.bool_
    if isinstance(v, int):
        return dtypes.int64
    if isinstance(v, float):
        return _default_dtype
    if is_symbolic(v):  # a size of a shape-generic trace (dynamic=True), or made from one
        return dtypes.int64 if v.is_integer else _default_dtype
    raise TypeError(f"unsupported operand type {type(v).__name__}; expected a Tensor or a number")


_RESULT_TYPES: dict[tuple, DType] = {}


def result_type(*xs: Any) -> DType:
    """torch.result_type over tensors and Python scalars (memoized on what decides it:
    each operand's dtype and whether it has dims, each scalar's kind, the default dtype)."""
    Tensor = _tensor_cls()
    key = tuple((x._dtype, x._var is None and x._data.ndim != 0) if isinstance(x, Tensor)
                and x._var is None else None if isinstance(x, Tensor) else type(x) for x in xs)
    if None not in key:
        got = _RESULT_TYPES.get((key, _default_dtype))
        if got is None:
            got = _RESULT_TYPES[(key, _default_dtype)] = _result_type(xs)
        return got
    return _result_type(xs)


def _result_type(xs: Sequence[Any]) -> DType:
    Tensor = _tensor_cls()
    dim, zero, scal = [], [], []
    for x in xs:
        if isinstance(x, Tensor):
            (dim if x.ndim else zero).append(x.dtype)
        else:
            scal.append(scalar_dtype(x))
    return result_type_of(dim, zero, scal)


def _as_operand(x: Any, dtype: DType) -> Any:
    """A tensor cast to `dtype` (when it differs), or a Python scalar as a Literal."""
    if isinstance(x, _tensor_cls()):
        return x if x.dtype is dtype else cast(x, dtype)
    if is_symbolic(x):  # a size (dynamic=True): the generated code reads it per call
        return Literal(x, dtype)
    if dtype.is_floating_point:
        return Literal(float(x), dtype)
    if dtype is dtypes.bool_:
        return Literal(bool(x), dtype)
    info = np.iinfo(dtype.name)  # an int outside the dtype's range wraps, as in torch
    return Literal((int(x) - int(info.min)) % (int(info.max) - int(info.min) + 1) + int(info.min), dtype)


def _check_operands(*xs: Any) -> None:
    Tensor = _tensor_cls()
    if not any(isinstance(x, Tensor) for x in xs):
        raise TypeError("expected at least one Tensor operand")
    for x in xs:
        if not isinstance(x, (Tensor, bool, int, float, np.number, np.bool_)) and not is_symbolic(x):
            raise TypeError(
                f"unsupported operand type {type(x).__name__}: expected a Tensor or a Python "
                f"number (wrap NumPy arrays and lists with tt.tensor(...))"
            )


def _binary(op: str, a: Any, b: Any, *, float_result: bool = False,
            dtype: DType | None = None) -> Any:
    _check_operands(a, b)
    dtype = dtype or result_type(a, b)
    if float_result and not dtype.is_floating_point:
        dtype = _default_dtype
    if dtype is dtypes.float16 and not all(isinstance(x, _tensor_cls()) and x.dtype is dtype for x in (a, b)):
        # a Python float or a 0-d wider tensor with a half tensor: torch computes in float
        # ("opmath") with the scalar's full value, then rounds; a half scalar could be inf
        return cast(bind(op, [_as_operand(a, dtypes.float32), _as_operand(b, dtypes.float32)]), dtype)
    return bind(op, [_as_operand(a, dtype), _as_operand(b, dtype)])


def cast(x: Any, dtype: DType) -> Any:
    if x.dtype is dtype:
        return x
    return bind("cast", [x], {"dtype": dtype})


# ----------------------------------------------------------------- arithmetic


def add(a: Any, b: Any, *, alpha: float | None = None) -> Any:
    if alpha is None and (r := fast_binary("add", a, b)) is not None:
        return r
    if alpha is not None and alpha != 1:
        b = mul(b, alpha)
    if isinstance(a, _tensor_cls()) and isinstance(b, _tensor_cls()) and a.dtype is dtypes.bool_ and b.dtype is dtypes.bool_:
        return logical_or(a, b)
    return _binary("add", a, b)


def sub(a: Any, b: Any, *, alpha: float | None = None) -> Any:
    if alpha is None and (r := fast_binary("sub", a, b)) is not None:
        return r
    Tensor = _tensor_cls()
    if any(isinstance(x, (bool, np.bool_)) or isinstance(x, Tensor) and x.dtype is dtypes.bool_
           for x in (a, b)):
        if all(isinstance(x, Tensor) and x.dtype is dtypes.bool_ for x in (a, b)):
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. "
                "Use the `^` or `logical_xor()` operator instead."
            )
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    if alpha is not None and alpha != 1:
        b = mul(b, alpha)
    return _binary("sub", a, b)


def mul(a: Any, b: Any) -> Any:
    if (r := fast_binary("mul", a, b)) is not None:
        return r
    dtype = result_type(a, b)
    if dtype is dtypes.bool_:
        return logical_and(a, b)
    return _binary("mul", a, b, dtype=dtype)


def div(a: Any, b: Any) -> Any:
    if (r := fast_binary("div", a, b, True)) is not None:
        return r
    return _binary("div", a, b, float_result=True)


true_divide = divide = div
multiply = mul
subtract = sub


def pow(a: Any, b: Any) -> Any:
    dtype = result_type(a, b)
    if not dtype.is_floating_point and isinstance(b, int) and not isinstance(b, bool) and b < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if dtype is dtypes.bool_:
        dtype = dtypes.int64
    _check_operands(a, b)
    Tensor = _tensor_cls()
    name = ("PowBackward1" if isinstance(a, Tensor) and isinstance(b, Tensor)
            else "PowBackward0" if isinstance(a, Tensor) else "PowBackward2")
    return bind("pow", [_as_operand(a, dtype), _as_operand(b, dtype)], grad_name=name)


def neg(x: Any) -> Any:
    if x.dtype is dtypes.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return bind("neg", [x])


negative = neg


def _float_unary(op: str):
    def fn(x: Any) -> Any:
        if not isinstance(x, _tensor_cls()):
            raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
        if not x.dtype.is_floating_point:
            x = cast(x, _default_dtype)
        return bind(op, [x])

    fn.__name__ = op
    fn.__doc__ = f"Elementwise {op}, like torch.{op} (integer inputs give the default float dtype)."
    return fn


exp = _float_unary("exp")
log = _float_unary("log")
sin = _float_unary("sin")
cos = _float_unary("cos")
tanh = _float_unary("tanh")
sigmoid = _float_unary("sigmoid")
sqrt = _float_unary("sqrt")


def relu(x: Any) -> Any:
    if x.dtype is dtypes.bool_:
        raise RuntimeError('"clamp_min_scalar_cpu" not implemented for \'Bool\'')
    return bind("relu", [x])


def abs(x: Any) -> Any:
    if x.dtype is dtypes.bool_:
        raise RuntimeError('"abs_cpu" not implemented for \'Bool\'')
    return bind("abs", [x])


absolute = abs


def where(cond: Any, a: Any = None, b: Any = None) -> Any:
    """where(cond, a, b) selects; where(cond) alone is nonzero(cond, as_tuple=True)."""
    if a is None and b is None:
        from .ops.indexing import nonzero

        return nonzero(cond, as_tuple=True)
    Tensor = _tensor_cls()
    if not isinstance(cond, Tensor):
        raise TypeError("where(): argument 'condition' must be Tensor")
    if cond.dtype is not dtypes.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype.name.capitalize()}")
    dtype = result_type(a, b) if isinstance(a, Tensor) or isinstance(b, Tensor) else (
        _default_dtype if isinstance(a, float) or isinstance(b, float) else result_type_of([], [], [scalar_dtype(a), scalar_dtype(b)])
    )
    return bind("where", [cond, _as_operand(a, dtype), _as_operand(b, dtype)])


# ----------------------------------------------------------------- comparisons


def _compare(op: str):
    def fn(a: Any, b: Any) -> Any:
        _check_operands(a, b)
        dtype = result_type(a, b)
        return bind(op, [_as_operand(a, dtype), _as_operand(b, dtype)])

    fn.__name__ = op
    return fn


gt, lt, ge, le, eq, ne = (_compare(n) for n in ("gt", "lt", "ge", "le", "eq", "ne"))
greater, less, greater_equal, less_equal, not_equal = gt, lt, ge, le, ne


def logical_and(a: Any, b: Any) -> Any:
    return bind("mul", [_as_bool(a), _as_bool(b)])


def logical_or(a: Any, b: Any) -> Any:
    return bind("ne", [bind("add", [cast(_as_bool(a), dtypes.int64), cast(_as_bool(b), dtypes.int64)]), Literal(0, dtypes.int64)])


def logical_not(x: Any) -> Any:
    return bind("eq", [_as_bool(x), Literal(False, dtypes.bool_)])


def _as_bool(x: Any) -> Any:
    if isinstance(x, _tensor_cls()):
        return x if x.dtype is dtypes.bool_ else ne(x, 0)
    return Literal(bool(x), dtypes.bool_)


# ----------------------------------------------------------------- reductions


def sum(x: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
        dtype: DType | None = None) -> Any:
    if dtype is not None:
        x = cast(x, dtype)
    dim = _dims_arg(dim)
    dims = normalize_dims(dim, x.ndim)
    return bind("sum", [x], {"dims": dims, "keepdim": bool(keepdim)},
                grad_name="SumBackward0" if dim is None else "SumBackward1")


def mean(x: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
         dtype: DType | None = None) -> Any:
    if dtype is not None:
        x = cast(x, dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {_torch_type_name(x.dtype)}"
        )
    dims = normalize_dims(_dims_arg(dim), x.ndim)
    count = 1
    for d in dims:
        count *= x.shape[d]
    total = bind("sum", [x], {"dims": dims, "keepdim": bool(keepdim)})
    return bind("div", [total, Const(count if is_symbolic(count) else float(count), x.dtype)],
                grad_name="MeanBackward0" if dim is None else "MeanBackward1")


def _dims_arg(dim: Any) -> Any:
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        return None  # torch: an empty dim list reduces over everything
    return dim


def _torch_type_name(d: DType) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half"}[d.name]


# ----------------------------------------------------------------- linear algebra


def matmul(a: Any, b: Any) -> Any:
    Tensor = _tensor_cls()
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"matmul(): argument 'other' must be Tensor, not {type(b if isinstance(a, Tensor) else a).__name__}"
        )
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_c_type(a.dtype)} != {_c_type(b.dtype)}"
        )
    name = "DotBackward0" if a.ndim == b.ndim == 1 else (
        "MvBackward0" if a.ndim == 2 and b.ndim == 1 else None)
    return bind("matmul", [a, b], grad_name=name)


def _c_type(d: DType) -> str:
    return {"int64": "long int", "int32": "int", "float32": "float", "float64": "double",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
            "float16": "c10::Half"}[d.name]


# ----------------------------------------------------------------- shapes


def reshape(x: Any, *shape: Any) -> Any:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    new = infer_reshape(shape, x.numel())
    if new == tuple(x.shape):
        return x if x._var is not None else _alias(x)
    return bind("reshape", [x], {"shape": new})


def _alias(x: Any) -> Any:
    # reshape to the same shape still returns a new tensor object (a view in torch)
    return bind("reshape", [x], {"shape": tuple(x.shape)})


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x.ndim)
    e = normalize_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x
    n = 1
    for d in x.shape[s : e + 1]:
        n *= d
    return reshape(x, tuple(x.shape[:s]) + (n,) + tuple(x.shape[e + 1 :]))


def unsqueeze(x: Any, dim: int) -> Any:
    d = normalize_dim(dim, x.ndim, extra=1)
    shape = list(x.shape)
    shape.insert(d, 1)
    return bind("reshape", [x], {"shape": tuple(shape)}, grad_name="UnsqueezeBackward0")


def squeeze(x: Any, dim: int | Sequence[int] | None = None) -> Any:
    if x.ndim == 0:
        normalize_dims(dim, 0)  # validates dim, as torch does
        return _alias(x) if x._var is None else x
    if dim is None:
        dims = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        dims = tuple(d for d in normalize_dims(dim, x.ndim) if x.shape[d] == 1)
    shape = tuple(s for i, s in enumerate(x.shape) if i not in dims)
    name = "SqueezeBackward0" if dim is None else (
        "SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2")
    return bind("reshape", [x], {"shape": shape}, grad_name=name)


def permute(x: Any, *dims: Any) -> Any:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if len(dims) != x.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    perm = tuple(normalize_dim(d, x.ndim) for d in dims)
    if len(set(perm)) != len(perm):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return bind("permute", [x], {"perm": perm})


def transpose(x: Any, dim0: int, dim1: int) -> Any:
    if x.ndim == 0:
        normalize_dim(dim0, 0), normalize_dim(dim1, 0)
        return _alias(x)
    d0, d1 = normalize_dim(dim0, x.ndim), normalize_dim(dim1, x.ndim)
    perm = list(range(x.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return bind("permute", [x], {"perm": tuple(perm)}, grad_name="TransposeBackward0")


swapaxes = swapdims = transpose


def t(x: Any) -> Any:
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    shape = tuple(s if is_symbolic(s) else int(s) for s in shape)  # (x.expand(y.shape): sizes stay symbolic)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return bind("broadcast_to", [x], {"shape": shape})


def detach(x: Any) -> Any:
    if x._var is not None:
        return bind("detach", [x])
    from .tensor import Tensor

    out = Tensor._wrap(x._data)
    out._vc = x._vc  # shares memory, so shares the version counter, as in torch
    return out


# ----------------------------------------------------------------- max / argmax


def amax(x: Any, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Any:
    dims = normalize_dims(_dims_arg(dim), x.ndim)
    return bind("amax", [x], {"dims": dims, "keepdim": bool(keepdim)})


def argmax(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    if dim is None:
        flat = reshape(x, (-1,))
        return bind("argmax", [flat], {"dim": 0, "keepdim": False}) if not keepdim else reshape(
            bind("argmax", [flat], {"dim": 0, "keepdim": False}), (1,) * x.ndim)
    d = normalize_dim(dim, x.ndim) if x.ndim else None
    if d is None:
        return bind("argmax", [reshape(x, (1,))], {"dim": 0, "keepdim": False})
    return bind("argmax", [x], {"dim": d, "keepdim": bool(keepdim)})


def max(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """torch.max(x) (the largest value) or torch.max(x, dim) -> (values, indices)."""
    if dim is None:
        return amax(x)
    from .ops.reductions import _select  # torch routes the gradient to the chosen index

    return _MaxResult(*_select("max", "argmax", x, dim, keepdim))


from .return_types import max as _MaxResult  # noqa: E402
__all__ += ["amax", "argmax", "max"]
