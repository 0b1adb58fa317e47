"""torch.nn.utils.parameters_to_vector / vector_to_parameters."""

from __future__ import annotations

from typing import Any, Iterable

import torchtrek as tt


def _check_same_device(p: Any, device: Any) -> Any:
    if device is not None and p.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return p.device


def parameters_to_vector(parameters: Iterable[Any]) -> Any:
    """Every parameter flattened and concatenated into one 1-d tensor (differentiable)."""
    device = None
    vec = []
    for p in parameters:
        device = _check_same_device(p, device)
        vec.append(p.view(-1))
    return tt.cat(vec)


def vector_to_parameters(vec: Any, parameters: Iterable[Any]) -> None:
    """Copy slices of `vec` into the parameters' data, in order."""
    if not isinstance(vec, tt.Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for p in parameters:
        device = _check_same_device(p, device)
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
