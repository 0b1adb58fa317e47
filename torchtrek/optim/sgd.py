"""torch.optim.SGD: momentum, dampening, Nesterov, weight decay, maximize."""

from __future__ import annotations

from typing import Any, Iterable

from .. import functional as F
from ..ir import dtypes
from ..tensor import Tensor
from ..tracer import current_trace
from .optimizer import Optimizer, _axpy, _in, _nonzero, _real_full

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = self._hp(group, "lr")
        maximize = self._decide(group, "maximize")
        decay = self._decide(group, "weight_decay", _nonzero)
        use_momentum = self._decide(group, "momentum", _nonzero)
        nesterov = use_momentum and self._decide(group, "nesterov")
        damped = use_momentum and self._decide(group, "dampening", _nonzero)
        wd = self._hp(group, "weight_decay") if decay else 0
        momentum = self._hp(group, "momentum") if use_momentum else 0
        dampening = self._hp(group, "dampening") if damped else 0
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = -p.grad if maximize else p.grad
            if decay:
                grad = _axpy(grad, p, wd)
            if use_momentum:
                buf = self._momentum_buffer(p, grad, momentum, dampening, damped)
                grad = _axpy(grad, buf, momentum) if nesterov else buf
            p.copy_(_axpy(p, grad, -lr))

    def _momentum_buffer(self, p: Tensor, grad: Any, momentum: Any, dampening: Any,
                         damped: bool) -> Any:
        """The updated momentum buffer: the gradient itself on the first step (as torch),
        momentum * buf + (1 - dampening) * grad after.

        Eagerly the first step clones the gradient. Inside a trace the buffer must be a
        real tensor and the compiled code must not depend on whether it ran before, so
        it starts at zero (momentum * 0 + grad is exactly grad) and, when dampening
        differs from zero, a private 0-d flag selects the first step's value."""
        state = self._state(p)
        buf = state.get("momentum_buffer")
        if buf is None and current_trace() is None:
            buf = state["momentum_buffer"] = grad.detach().clone()
            return buf
        if buf is None:
            buf = state["momentum_buffer"] = _real_full(p)
            if damped:
                self._first_step[p] = _real_full(None, 1.0, dtypes.float32)
        first = self._first_step.get(p)
        buf.mul_(_in(momentum, buf))
        update = _axpy(buf, grad, 1 - dampening)
        if first is not None:
            update = F.where(first > 0, grad, update)
            first.zero_()
        buf.copy_(update)
        return buf

