"""torch.optim.Adam and AdamW (amsgrad, maximize, decoupled weight decay)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .. import functional as F
from .._dispatch import bind_multi
from ..ir import dtypes
from ..tensor import Tensor
from .optimizer import Optimizer, _addcmul, _axpy, _in, _lerp, _nonzero, _real_full

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps = self._hp(group, "lr"), self._hp(group, "eps")
        beta1, beta2 = self._hp(group, "betas", 0), self._hp(group, "betas", 1)
        small = self._decide(group, "betas", lambda b: abs(1 - b) < 0.5, 0)  # lerp's branch
        decay = self._decide(group, "weight_decay", _nonzero)
        wd = self._hp(group, "weight_decay") if decay else 0
        decoupled = decay and self._decide(group, "decoupled_weight_decay")
        amsgrad, maximize = self._decide(group, "amsgrad"), self._decide(group, "maximize")
        hyper = None
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state(p)
            if not state:
                state["step"] = _real_full(None, 0.0, dtypes.float32)
                state["exp_avg"] = _real_full(p)
                state["exp_avg_sq"] = _real_full(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = _real_full(p)
            grad = -p.grad if maximize else p.grad
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            step = state["step"].add_(1)
            if not amsgrad and _fusable(p, grad, exp_avg, exp_avg_sq, step):
                if hyper is None:  # (the group's, once: the same for all its parameters)
                    hyper = [_f64(h) for h in (lr, beta1, beta2, eps, wd)]
                # (eagerly the kernel writes p and both averages in place where it can:
                # then bind_multi hands back the tensors themselves, and nothing is copied)
                new_p, new_m, new_v = bind_multi(
                    "adam_step", [p, grad, exp_avg, exp_avg_sq, step, *hyper],
                    {"small": small, "decay": decay, "decoupled": decoupled},
                    write_back=((0, 0), (1, 2), (2, 3)))
                for new, old in ((new_m, exp_avg), (new_v, exp_avg_sq), (new_p, p)):
                    if new is not old:
                        old.copy_(new)
                continue
            if decay:
                if decoupled:
                    p.mul_(_in(1 - lr * wd, p))
                else:
                    grad = _axpy(grad, p, wd)
            exp_avg.copy_(_lerp(exp_avg, grad, 1 - beta1, small))
            exp_avg_sq.copy_(_addcmul(exp_avg_sq * _in(beta2, exp_avg_sq), grad, grad, 1 - beta2))
            # torch reads the step as a Python float and computes these in double; here
            # they are float64 tensor ops on the step tensor, so a compiled step reads the
            # current count at every call instead of baking in the traced one
            step = F.cast(step, dtypes.float64)
            step_size = lr / (1 - beta1**step)
            bias_correction2_sqrt = F.sqrt(1 - beta2**step)
            if amsgrad:
                biggest = state["max_exp_avg_sq"]
                biggest.copy_(F.where(biggest > exp_avg_sq, biggest, exp_avg_sq))
                exp_avg_sq = biggest
            # the double scalars reach torch's float kernels converted to the param's dtype
            denom = F.sqrt(exp_avg_sq) / F.cast(bias_correction2_sqrt, p.dtype) + _in(eps, p)
            p.add_(exp_avg * F.cast(-step_size, p.dtype) / denom)  # torch's addcdiv_


def _fusable(p: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step: Tensor) -> bool:
    """The update runs as one `adam_step` (ir/ops/optim.py): float32/float64 CPU tensors
    (the CUDA backend has no kernel for it: there the update stays the ops above)."""
    return (p.dtype in (dtypes.float32, dtypes.float64) and p.device.type == "cpu"
            and all(t.dtype is p.dtype and t.shape == p.shape for t in (grad, exp_avg, exp_avg_sq))
            and step.dtype is dtypes.float32 and step.device.type == "cpu")


def _f64(h: Any) -> Tensor:
    """A hyper-parameter as a 0-d float64 tensor (inside a trace it already is one)."""
    return h if isinstance(h, Tensor) else Tensor._wrap(np.array(float(h), np.float64))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
