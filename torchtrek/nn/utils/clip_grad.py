"""torch.nn.utils.clip_grad_norm_ / clip_grad_value_: scale or clamp `.grad` in place."""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterable

import torchtrek as tt


def _grads(parameters: Any) -> list[Any]:
    if isinstance(parameters, tt.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Any] | Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Any:
    """Scale the gradients so that their joint `norm_type` norm is at most `max_norm`; returns
    the total norm before clipping (a 0-d tensor), as torch does."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return tt.tensor(0.0)
    with tt.no_grad():
        norms = [tt.linalg.vector_norm(g, norm_type) for g in grads]
        total = tt.linalg.vector_norm(tt.stack(norms), norm_type)
        if error_if_nonfinite and total._values_or_none() is not None:
            t = float(total.item())
            if math.isnan(t) or math.isinf(t):
                raise RuntimeError(
                    f"The total norm of order {norm_type} for gradients from `parameters` is "
                    "non-finite, so it cannot be clipped. To disable this error and scale the "
                    "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = tt.clamp(max_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_norm(parameters: Any, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Any:
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Iterable[Any] | Any, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with tt.no_grad():
        for g in _grads(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
