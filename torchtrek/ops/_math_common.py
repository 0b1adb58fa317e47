"""Argument checks shared by the math family's front ends, with torch's messages."""

from __future__ import annotations

from typing import Any, NoReturn

from ..ir.dtypes import DType

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
               "uint8": "Byte", "bool": "Bool", "float32": "Float", "float64": "Double",
               "float16": "Half"}


def tensor_cls() -> Any:
    from ..tensor import Tensor

    return Tensor


def require_tensor(fn: str, x: Any, arg: str = "input", position: int = 1) -> None:
    """torch's TypeError for a non-tensor where the signature takes only tensors."""
    if not isinstance(x, tensor_cls()):
        raise TypeError(f"{fn}(): argument '{arg}' (position {position}) must be Tensor, "
                        f"not {type(x).__name__}")


def not_implemented(kernel: str, dtype: DType) -> NoReturn:
    """torch's error for a dtype its kernel lacks: '"erf_cpu" not implemented for 'Long''."""
    raise NotImplementedError(f'"{kernel}" not implemented for \'{_TYPE_NAMES[dtype.name]}\'')


def int_literal_zero(b: Any) -> bool:
    """Is `b` a Python number equal to zero (an integer division by it must raise)?"""
    return isinstance(b, (bool, int, float)) and b == 0
