"""tt.device and the tt.cuda namespace (is_available, synchronize, device_count)."""

from __future__ import annotations

from typing import Any


class device:
    """Like torch.device: device('cuda'), device('cuda:0'), device('cpu')."""

    __slots__ = ("type", "index")

    def __init__(self, spec: Any, index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        text = str(spec)
        kind, _, idx = text.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {text}")
        if idx:
            index = int(idx)
        if kind == "cuda" and index is None:
            index = 0
        if kind == "cuda" and index != 0:
            raise RuntimeError(f"only cuda:0 is supported, got {text}")
        self.type = kind
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and (self.type, self.index or 0) == (other.type, other.index or 0)

    def __hash__(self) -> int:
        return hash((self.type, self.index or 0))


CPU = device("cpu")


class _CudaNamespace:
    """tt.cuda: False/0 everywhere when pycuda or a GPU is missing; nothing else changes."""

    @staticmethod
    def is_available() -> bool:
        from .runtime import cuda

        return cuda.is_available()

    @staticmethod
    def device_count() -> int:
        from .runtime import cuda

        return cuda.device_count()

    @staticmethod
    def synchronize(device: Any = None) -> None:
        from .runtime import cuda

        cuda.synchronize()

    # what scripts call on the way (no effect: one GPU, NumPy's random stream)
    @staticmethod
    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return False  # no bfloat16 kernels

    @staticmethod
    def manual_seed(seed: int) -> None:
        return None

    manual_seed_all = manual_seed

    @staticmethod
    def current_device() -> int:
        return 0

    @staticmethod
    def set_device(device: Any) -> None:
        return None

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        from .runtime import cuda

        return cuda.device_name() if hasattr(cuda, "device_name") else "CUDA device"

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def memory_allocated(device: Any = None) -> int:
        return 0

    max_memory_allocated = memory_allocated

    @property
    def amp(self) -> Any:
        """torch.cuda.amp (deprecated in torch for torch.amp): autocast and GradScaler."""
        from types import SimpleNamespace

        from . import amp

        return SimpleNamespace(autocast=lambda enabled=True, dtype=None, cache_enabled=True:
                               amp.autocast("cuda", dtype, enabled),
                               GradScaler=lambda *a, **k: amp.GradScaler("cuda", *a, **k))

    def __getattr__(self, name: str) -> Any:
        from ._as_torch import unsupported_attribute

        raise unsupported_attribute("torchtrek.cuda", name)


cuda = _CudaNamespace()
