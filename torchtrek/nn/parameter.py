"""torch.nn.Parameter: a Tensor a Module registers as a parameter."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter; requires grad by default. It
    shares memory with the tensor it is made from, as torch's does."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        from ..creation import empty

        if data is None:
            data = empty(0)
        data._concrete_check("nn.Parameter(tensor)")
        arr = data._data  # (on the host or the GPU: the same memory, either way)
        if isinstance(arr, np.ndarray) and not arr.flags.writeable:
            arr = arr.copy()  # a broadcast view, say: updates need their own memory
        p = object.__new__(cls)
        p._init(arr, data.dtype)
        if requires_grad and not data.dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        p.requires_grad = bool(requires_grad)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happened in __new__

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__  # print(p) shows it too, as torch's does
