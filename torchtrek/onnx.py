"""torch.onnx: importable (scripts import it at the top); exporting is not supported."""

from __future__ import annotations

from typing import Any


def export(*args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("torch.onnx.export is not supported by TorchTrek; "
                              "`torchtrek aot` exports standalone NumPy / CUDA source instead")


def is_in_onnx_export() -> bool:
    return False
