"""torchtrek.optim: torch.optim's SGD, Adam and AdamW, updating parameters in place
with torch's arithmetic, so results match torch's step for step.

The Optimizer base class keeps parameter groups, per-parameter state, zero_grad and
state_dict / load_state_dict in torch's layout (parameters numbered in group order).

Traceable: `step()` and `zero_grad()` run inside `@tt.compile` (a whole training step
traced into one function). No Python value is read from a tensor: Adam's step count is
a 0-d float32 tensor updated in place and its bias corrections are tensor ops, so the
compiled code reads the current count at every call. State created during a trace is
made of real (zero-filled) tensors, which the compiled code captures and updates in place.

Rounding: torch's CPU kernels for `add(other, alpha=a)`, `lerp` and `addcmul` are fused
multiply-adds (one rounding); for float32 they are computed here in float64 and rounded
once (axpy, lerp, addcmul below). Only torch's vectorized sqrt, which is not correctly
rounded, still differs by an ulp now and then.
"""

from __future__ import annotations

import copy
from itertools import chain
from typing import Any, Callable, Iterable

import numpy as np

from . import autograd
from . import functional as F
from .ir import dtypes
from .runtime import arrays
from .tensor import Tensor
from .tracer import current_trace

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


# ----------------------------------------------------------------- fused updates


def _wide(t: Any) -> Any:
    return F.cast(t, dtypes.float64) if t.dtype is dtypes.float32 else t


def _narrow(t: Any, like: Any) -> Any:
    return F.cast(t, like.dtype)


def _scalar(v: float, like: Any) -> float:
    # torch converts the scalar to the tensor's dtype before the multiply-add
    return float(np.asarray(v, like.dtype.name)) if like.dtype.is_floating_point else v


def _axpy(x: Any, y: Any, alpha: float) -> Any:
    """x + alpha * y, rounded once (torch: x.add(y, alpha=alpha))."""
    if alpha == 1:
        return x + y
    return _narrow(_wide(x) + _wide(y) * _scalar(alpha, x), x)


def _lerp(start: Any, end: Any, weight: float) -> Any:
    """start + weight * (end - start), torch's lerp for |weight| < 0.5 (otherwise
    end - (1 - weight) * (end - start)); the difference is rounded first, then one
    fused multiply-add."""
    diff = _wide(end - start)
    w = _scalar(weight, start)
    if abs(weight) < 0.5:
        return _narrow(_wide(start) + diff * w, start)
    return _narrow(_wide(end) + diff * _scalar(weight - 1, start), start)


def _real_full(like: Tensor | None, value: float = 0, dtype: Any = None) -> Tensor:
    """`value` everywhere, shaped like `like` (0-d when `like` is None), on its device,
    always a real tensor: inside a trace the creation ops make graph constants, while
    optimizer state must outlive the trace (the compiled code captures it and updates it
    in place at every call)."""
    shape = () if like is None else tuple(like.shape)
    d = dtype or like.dtype
    data = None if like is None else like._data
    if data is None:  # 0-d state, or a traced (symbolic) parameter: on the host
        return Tensor._wrap(np.full(shape, value, d.name))
    return Tensor._wrap(arrays.full_like_spec(shape, d.name, value, data))


def _addcmul(x: Any, t1: Any, t2: Any, value: float) -> Any:
    """x + value * t1 * t2 as torch computes it: (value * t1) rounded, then one fused
    multiply-add with t2."""
    return _narrow(_wide(x) + _wide(t1 * value) * _wide(t2), x)


# ----------------------------------------------------------------- base class


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        # SGD with dampening, momentum buffer created inside a trace: 1 until the first
        # step ran (not in torch's state; see SGD._momentum_buffer)
        self._first_step: dict[Tensor, Tensor] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {params.type()}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__module__}.{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    # no read of .grad: inside a trace a read becomes a guard on whether
                    # .grad was None, and the result is None either way
                    p.grad = None
                    continue
                g = p.grad
                if g is None:
                    continue
                g.detach_()
                ctx = current_trace()
                if ctx is not None and g._var is None:
                    # Work around the compiler giving a real tensor that is written before
                    # it is read no slot of its own (its write-back then lands on another
                    # captured tensor): read it first, so it is captured.
                    ctx.capture(g, g._type(), g._hint)
                g.zero_()

    def _state(self, p: Tensor) -> dict[str, Any]:
        return self.state.setdefault(p, {})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        with autograd.no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}; the
        state's tensors are the live ones, as in torch."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = copy.copy(state_dict)
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = dict(zip(chain.from_iterable(s["params"] for s in saved),
                            chain.from_iterable(g["params"] for g in self.param_groups)))
        self.state = {}
        self._first_step = {}
        for k, s in state_dict["state"].items():
            if k in by_index:
                p = by_index[k]
                self.state[p] = {name: _cast_state(name, v, p) for name, v in s.items()}
        self.param_groups = [dict(s, params=g["params"]) for s, g in zip(saved, self.param_groups)]

    def __repr__(self) -> str:
        out = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    out += f"    {key}: {group[key]}\n"
        return out + ")"


def _cast_state(name: str, value: Any, param: Tensor) -> Any:
    """A copy of a state tensor in the parameter's dtype ('step' keeps its own)."""
    if not isinstance(value, Tensor):
        return value
    if name != "step" and value.dtype.is_floating_point:
        return F.cast(value, param.dtype).clone()
    return value.clone()


# ----------------------------------------------------------------- SGD


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
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = -p.grad if group["maximize"] else p.grad
            if group["weight_decay"] != 0:
                grad = _axpy(grad, p, group["weight_decay"])
            if momentum != 0:
                buf = self._momentum_buffer(p, grad, momentum, dampening)
                grad = _axpy(grad, buf, momentum) if group["nesterov"] else buf
            p.copy_(_axpy(p, grad, -lr))

    def _momentum_buffer(self, p: Tensor, grad: Any, momentum: float, dampening: float) -> Any:
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
            if dampening != 0:
                self._first_step[p] = _real_full(None, 1.0, dtypes.float32)
        first = self._first_step.get(p)
        buf.mul_(momentum)
        update = _axpy(buf, grad, 1 - dampening)
        if first is not None:
            update = F.where(first > 0, grad, update)
            first.zero_()
        buf.copy_(update)
        return buf

# ----------------------------------------------------------------- Adam, AdamW


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
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd, amsgrad = group["weight_decay"], group["amsgrad"]
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
            grad = -p.grad if group["maximize"] else p.grad
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            step = state["step"].add_(1)
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * wd)
                else:
                    grad = _axpy(grad, p, wd)
            exp_avg.copy_(_lerp(exp_avg, grad, 1 - beta1))
            exp_avg_sq.copy_(_addcmul(exp_avg_sq * beta2, grad, grad, 1 - beta2))
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
            denom = F.sqrt(exp_avg_sq) / F.cast(bias_correction2_sqrt, p.dtype) + eps
            p.add_(exp_avg * F.cast(-step_size, p.dtype) / denom)  # torch's addcdiv_


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
