"""torch.optim.optimizer: the Optimizer base class and the arithmetic its subclasses share,
updating parameters in place with torch's arithmetic, so results match torch's step for step.

The Optimizer base class keeps parameter groups, per-parameter state, zero_grad and
state_dict / load_state_dict in torch's layout (parameters numbered in group order).

Traceable: `step()` and `zero_grad()` run inside `@tt.compile` (a whole training step
traced into one function). No Python value is read from a tensor: Adam's step count is
a 0-d float32 tensor updated in place and its bias corrections are tensor ops, so the
compiled code reads the current count at every call. State created during a trace is
made of real (zero-filled) tensors, which the compiled code captures and updates in place.

Hyper-parameters inside a trace: `self._hp(group, "lr")` is a live 0-d float64 tensor the
compiled code reads, refreshed from `param_groups` before every call, so a scheduler (or the
user) changing `g['lr']` changes the next compiled step without a recompile. Decisions taken
on a hyper-parameter's value (`weight_decay != 0`, `nesterov`) go through `self._decide`,
which guards them: the compiled step is rebuilt when the decision would change.

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

from .. import autograd
from .. import functional as F
from ..ir import dtypes
from ..runtime import arrays
from ..tensor import Tensor
from ..tracer import current_trace

__all__ = ["Optimizer", "required"]


# ----------------------------------------------------------------- fused updates


def _wide(t: Any) -> Any:
    return F.cast(t, dtypes.float64) if t.dtype is dtypes.float32 else t


def _narrow(t: Any, like: Any) -> Any:
    return F.cast(t, like.dtype)


def _scalar(v: Any, like: Any) -> Any:
    """A hyper-parameter as torch's kernels see it: converted to the tensor's dtype (and, for
    the float32 fused forms here, widened again); a live 0-d tensor the same way."""
    if isinstance(v, Tensor):
        return _wide(F.cast(v, like.dtype)) if like.dtype.is_floating_point else v
    return float(np.asarray(v, like.dtype.name)) if like.dtype.is_floating_point else v


def _in(v: Any, like: Any) -> Any:
    """A hyper-parameter converted to `like`'s dtype, for a plain (unfused) tensor op."""
    return F.cast(v, like.dtype) if isinstance(v, Tensor) else v


def _axpy(x: Any, y: Any, alpha: Any) -> Any:
    """x + alpha * y, rounded once (torch: x.add(y, alpha=alpha))."""
    if not isinstance(alpha, Tensor) and alpha == 1:
        return x + y
    return _narrow(_wide(x) + _wide(y) * _scalar(alpha, x), x)


def _lerp(start: Any, end: Any, weight: Any, small: bool) -> Any:
    """start + weight * (end - start), torch's lerp for |weight| < 0.5 (`small`; otherwise
    end - (1 - weight) * (end - start)); the difference is rounded first, then one
    fused multiply-add."""
    diff = _wide(end - start)
    if small:
        return _narrow(_wide(start) + diff * _scalar(weight, start), start)
    return _narrow(_wide(end) + diff * _scalar(weight - 1, start), start)


def _nonzero(v: Any) -> bool:
    return v != 0


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


def _addcmul(x: Any, t1: Any, t2: Any, value: Any) -> Any:
    """x + value * t1 * t2 as torch computes it: (value * t1) rounded, then one fused
    multiply-add with t2."""
    return _narrow(_wide(x) + _wide(t1 * _in(value, t1)) * _wide(t2), x)


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
        self._live: dict[tuple, Tensor] = {}  # (group, key, index) -> its live 0-d tensor
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

    # ------------------------------------------------------------- hyper-parameters
    def _group_reader(self, group: dict[str, Any], key: str, index: int | None) -> Callable[[], Any]:
        gi = next(i for i, g in enumerate(self.param_groups) if g is group)

        def read() -> Any:
            v = self.param_groups[gi][key]
            return v if index is None else v[index]
        return read

    def _hp(self, group: dict[str, Any], key: str, index: int | None = None) -> Any:
        """group[key] (or group[key][index], for betas): the number eagerly; inside a trace a
        0-d float64 tensor the compiled code reads, refreshed from the group at every call."""
        v = group[key] if index is None else group[key][index]
        ctx = current_trace()
        if ctx is None or isinstance(v, Tensor):
            return v
        live = self._live.get((id(group), key, index))
        if live is None:
            live = _real_full(None, float(v), dtypes.float64)
            self._live[(id(group), key, index)] = live
        live._data[...] = float(v)
        read = self._group_reader(group, key, index)
        data = live._data

        def refresh() -> None:
            data[...] = read()
        ctx.before_call.append(refresh)
        return live

    def _decide(self, group: dict[str, Any], key: str, test: Callable[[Any], Any] = bool,
                index: int | None = None) -> bool:
        """test(group[key]), a decision the traced code bakes in: guarded inside a trace."""
        v = group[key] if index is None else group[key][index]
        ctx = current_trace()
        if ctx is None:
            return bool(test(v))
        read = self._group_reader(group, key, index)
        return bool(ctx.guard_value(lambda: bool(test(read()))))

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


