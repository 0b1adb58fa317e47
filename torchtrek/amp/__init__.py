"""torch.amp: autocast and GradScaler.

autocast on the CPU with float16 or bfloat16 is not modelled: TorchTrek computes in the
tensors' own dtypes. `autocast(enabled=False)` (and autocast for a device type this machine
does not use) is exact; an enabled autocast warns once that it computes in float32.
GradScaler with float32 math has nothing to scale: enabled, it is torch's disabled scaler
when CUDA is unavailable (torch warns and disables itself the same way)."""

from __future__ import annotations

import warnings
from typing import Any, Callable

_warned = [False]


class autocast:
    """A context manager and decorator; see the module note for what it changes (nothing)."""

    def __init__(self, device_type: str = "cuda", dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        self.device_type, self.fast_dtype, self._enabled = device_type, dtype, enabled
        if enabled and not _warned[0]:
            _warned[0] = True
            warnings.warn(f"torchtrek: autocast(device_type={device_type!r}, dtype={dtype}) "
                          "computes in the tensors' own dtypes (mixed precision is not "
                          "modelled)", stacklevel=2)

    def __enter__(self) -> "autocast":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)
        return wrapper


def is_autocast_available(device_type: str) -> bool:
    return device_type in ("cpu", "cuda")


class GradScaler:
    """torch.amp.GradScaler: with no CUDA float16 training to protect, scale() is the
    identity and step() is optimizer.step(), as torch's scaler once it disabled itself."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        from ..devices import cuda

        if enabled and device == "cuda" and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", stacklevel=2)
            enabled = False
        if enabled:
            warnings.warn("torchtrek: GradScaler computes unscaled (TorchTrek has no mixed "
                          "precision to protect)", stacklevel=2)
            enabled = False
        self._enabled = enabled
        self._init_scale = init_scale

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs: Any) -> Any:
        return outputs

    def unscale_(self, optimizer: Any) -> None:
        return None

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        return None

    def get_scale(self) -> float:
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        return None


__all__ = ["autocast", "GradScaler", "is_autocast_available"]
