"""torch.optim.Adadelta."""

from __future__ import annotations

from typing import Any, Iterable

from .. import functional as F
from ..ir import dtypes
from .optimizer import Optimizer, _addcmul, _axpy, _in, _nonzero, _real_full

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize, "capturable": capturable,
                                  "foreach": foreach, "differentiable": differentiable})

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = self._hp(group, "lr"), self._hp(group, "rho"), self._hp(group, "eps")
        decay = self._decide(group, "weight_decay", _nonzero)
        wd = self._hp(group, "weight_decay") if decay else 0
        maximize = self._decide(group, "maximize")
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state(p)
            if not state:
                state["step"] = _real_full(None, 0.0, dtypes.float32)
                state["square_avg"] = _real_full(p)
                state["acc_delta"] = _real_full(p)
            state["step"].add_(1)
            grad = -p.grad if maximize else p.grad
            if decay:
                grad = _axpy(grad, p, wd)
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg.copy_(_addcmul(square_avg * _in(rho, p), grad, grad, 1 - rho))
            std = F.sqrt(square_avg + _in(eps, p))
            delta = F.sqrt(acc_delta + _in(eps, p)) / std * grad
            acc_delta.copy_(_addcmul(acc_delta * _in(rho, p), delta, delta, 1 - rho))
            p.copy_(_axpy(p, delta, -lr))
