"""torch.optim.Adagrad (its accumulators are made at construction, as torch's)."""

from __future__ import annotations

from typing import Any, Iterable

from .. import functional as F
from ..ir import dtypes
from .optimizer import Optimizer, _addcmul, _axpy, _in, _nonzero, _real_full

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "foreach": foreach, "maximize": maximize,
                                  "differentiable": differentiable, "fused": fused})
        for group in self.param_groups:
            for p in group["params"]:
                state = self._state(p)
                state["step"] = _real_full(None, 0.0, dtypes.float32)
                state["sum"] = _real_full(p, group["initial_accumulator_value"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = self._hp(group, "lr"), self._hp(group, "lr_decay"), self._hp(group, "eps")
        decay = self._decide(group, "weight_decay", _nonzero)
        wd = self._hp(group, "weight_decay") if decay else 0
        maximize = self._decide(group, "maximize")
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state(p)
            step = F.cast(state["step"].add_(1), dtypes.float64)
            grad = -p.grad if maximize else p.grad
            if decay:
                grad = _axpy(grad, p, wd)
            clr = lr / (1 + (step - 1) * lr_decay)
            state["sum"].copy_(_addcmul(state["sum"], grad, grad, 1.0))
            std = F.sqrt(state["sum"]) + _in(eps, p)
            p.add_(grad * F.cast(-clr, p.dtype) / std)  # torch's addcdiv_(value=-clr)
