"""torch.nn.Parameter: a Tensor a Module registers as a parameter."""

from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter; requires grad by default. It
    shares memory with the tensor it is made from, as torch's does."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        from ..creation import empty

        if data is None:
            data = empty(0)
        arr = data._concrete("nn.Parameter(tensor)")
        if not arr.flags.writeable:  # a broadcast view, say: updates need their own memory
            arr = arr.copy()
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
