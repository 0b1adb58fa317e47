"""torch.optim.RMSprop (centered, momentum)."""

from __future__ import annotations

from typing import Any, Iterable

from .. import functional as F
from ..ir import dtypes
from .optimizer import Optimizer, _addcmul, _axpy, _in, _lerp, _nonzero, _real_full

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                                  "centered": centered, "weight_decay": weight_decay,
                                  "capturable": capturable, "foreach": foreach,
                                  "maximize": maximize, "differentiable": differentiable})

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = self._hp(group, "lr"), self._hp(group, "alpha"), self._hp(group, "eps")
        decay = self._decide(group, "weight_decay", _nonzero)
        wd = self._hp(group, "weight_decay") if decay else 0
        use_momentum = self._decide(group, "momentum", lambda m: m > 0)
        momentum = self._hp(group, "momentum") if use_momentum else 0
        centered, maximize = self._decide(group, "centered"), self._decide(group, "maximize")
        small = self._decide(group, "alpha", lambda a: abs(1 - a) < 0.5)  # lerp's branch
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state(p)
            if not state:
                state["step"] = _real_full(None, 0.0, dtypes.float32)
                state["square_avg"] = _real_full(p)
                if use_momentum:
                    state["momentum_buffer"] = _real_full(p)
                if centered:
                    state["grad_avg"] = _real_full(p)
            state["step"].add_(1)
            grad = -p.grad if maximize else p.grad
            if decay:
                grad = _axpy(grad, p, wd)
            square_avg = state["square_avg"]
            square_avg.copy_(_addcmul(square_avg * _in(alpha, p), grad, grad, 1 - alpha))
            if centered:
                grad_avg = state["grad_avg"]
                grad_avg.copy_(_lerp(grad_avg, grad, 1 - alpha, small))
                avg = F.sqrt(_addcmul(square_avg, grad_avg, grad_avg, -1.0))
            else:
                avg = F.sqrt(square_avg)
            avg = avg + _in(eps, p)
            if use_momentum:
                buf = state["momentum_buffer"]
                buf.copy_(buf * _in(momentum, p) + grad / avg)  # mul_ then addcdiv_
                p.copy_(_axpy(p, buf, -lr))
            else:
                p.add_(grad * _in(-lr, p) / avg)  # addcdiv_(value=-lr)
