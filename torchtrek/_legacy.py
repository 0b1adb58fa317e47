"""Pre-torch-2 surface that torch 2.13 still accepts: typed tensor constructors
(torch.LongTensor([1, 2]), torch.FloatTensor(2, 3)) and autograd.Variable live here."""

from __future__ import annotations

from typing import Any

from .ir import dtypes
from .tensor import Tensor, _legacy_array


class _LegacyType(type):
    """isinstance(t, torch.LongTensor) is "a tensor of int64", as torch's metaclass makes it."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls._legacy_dtype

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:
        arr = _legacy_array(args, cls._legacy_dtype.name)
        out = Tensor._wrap(arr)
        return out.to(device) if device is not None else out

    def __repr__(cls) -> str:
        return f"<class '{dtypes.display_prefix()}.{cls.__name__}'>"


def _legacy(name: str, dtype: dtypes.DType) -> type:
    return _LegacyType(name, (), {"_legacy_dtype": dtype, "dtype": dtype,
                                  "__doc__": f"torch.{name}: legacy constructor of {dtype}"})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
CharTensor = _legacy("CharTensor", dtypes.int8)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)

BY_NAME = {c.__name__: c for c in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor,
                                   ShortTensor, CharTensor, ByteTensor, BoolTensor)}


def legacy_dtype(t: Any) -> dtypes.DType | None:
    """The dtype `x.type(t)` means for a legacy class or its name ('torch.LongTensor')."""
    if isinstance(t, _LegacyType):
        return t._legacy_dtype
    if isinstance(t, str):
        cls = BY_NAME.get(t.rsplit(".", 1)[-1])
        if cls is not None and t.split(".")[0] in ("torch", "torchtrek"):
            return cls._legacy_dtype
    return None


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """torch.autograd.Variable: since torch 0.4 a Variable is a Tensor; this returns a new leaf
    sharing `data`'s values (requires_grad as asked)."""
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    out = data.detach()
    if requires_grad:
        out.requires_grad_(True)
    return out


__all__ = [*BY_NAME, "Variable"]
