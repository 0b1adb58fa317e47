"""torch.nn.parallel: DataParallel (one device: the module itself, under `.module`) and
DistributedDataParallel (not supported yet: it needs torch.distributed's process groups)."""

from __future__ import annotations

from typing import Any

from ..modules.module import Module


class DataParallel(Module):
    """With one device (or none), torch's DataParallel calls the module: so does this."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids = device_ids or []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    def __init__(self, module: Module, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("torch.nn.parallel.DistributedDataParallel is not supported by "
                                  "TorchTrek yet (torch.distributed has no process groups here)")


__all__ = ["DataParallel", "DistributedDataParallel"]
