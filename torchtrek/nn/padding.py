"""torch.nn's padding and upsampling modules, over F.pad and F.interpolate."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .modules.module import Module


def _tuple(padding: Any, n: int) -> tuple[int, ...]:
    return (int(padding),) * n if isinstance(padding, int) else tuple(int(p) for p in padding)


class _Pad(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding: Any, value: float | None = None) -> None:
        super().__init__()
        self.padding = _tuple(padding, 2 * self.dims)
        if value is not None:
            self.value = value

    def forward(self, input: Any) -> Any:
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", getattr(self, "value", 0.0))
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        if self.mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={getattr(self, 'value', 0.0)}"
        return f"{self.padding}"


def _pad_class(name: str, mode: str, dims: int, constant: bool = False) -> type:
    if constant:
        def __init__(self: Any, padding: Any, value: float) -> None:
            _Pad.__init__(self, padding, value)
    elif mode == "constant":  # ZeroPad
        def __init__(self: Any, padding: Any) -> None:
            _Pad.__init__(self, padding, 0.0)
    else:
        def __init__(self: Any, padding: Any) -> None:
            _Pad.__init__(self, padding)
    return type(name, (_Pad,), {"mode": mode, "dims": dims, "__init__": __init__,
                                "__module__": __name__})


ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1, True)
ConstantPad2d = _pad_class("ConstantPad2d", "constant", 2, True)
ConstantPad3d = _pad_class("ConstantPad3d", "constant", 3, True)
ZeroPad1d = _pad_class("ZeroPad1d", "constant", 1)
ZeroPad2d = _pad_class("ZeroPad2d", "constant", 2)
ReflectionPad1d = _pad_class("ReflectionPad1d", "reflect", 1)
ReflectionPad2d = _pad_class("ReflectionPad2d", "reflect", 2)
ReplicationPad1d = _pad_class("ReplicationPad1d", "replicate", 1)
ReplicationPad2d = _pad_class("ReplicationPad2d", "replicate", 2)
CircularPad1d = _pad_class("CircularPad1d", "circular", 1)
CircularPad2d = _pad_class("CircularPad2d", "circular", 2)


class Upsample(Module):
    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else scale_factor
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Any:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None \
            else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "CircularPad1d", "CircularPad2d", "Upsample"]
