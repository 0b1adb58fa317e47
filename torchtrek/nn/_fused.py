"""Eager calls of composite functions (softmax, layer_norm, cross_entropy) on big tensors
run as one compiled graph: fused C kernels, as torch runs its fused kernels, instead of
a dozen passes over memory op by op. Small inputs stay op by op (a compile would cost
more than it saves); inside a trace the function is simply inlined."""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

from .._dispatch import _native_ok, _tensor_cls
from ..tracer import current_trace


def fused_when_large(fn: Callable[..., Any]) -> Callable[..., Any]:
    compiled: list[Any] = []

    @functools.wraps(fn)
    def wrapper(input: Any, *args: Any, **kwargs: Any) -> Any:
        if current_trace() is not None or not _large(input):
            return fn(input, *args, **kwargs)
        if not compiled:
            from ..compiler import CompiledFunction

            # one entry per signature (a model's linears: a few shapes each, with and
            # without grad); past the limit a call runs op by op, as small inputs do
            compiled.append(CompiledFunction(fn, cache_size_limit=64, warn_cache_limit=False))
        return compiled[0](input, *args, **kwargs)

    return wrapper


def fuse_min_numel() -> int:
    """Inputs this big run fused (TORCHTREK_EAGER_FUSE_MIN_NUMEL). A fused call costs a few
    microseconds against a dozen eager ops' hundred; the first call per shape compiles
    (tens of ms, then the disk cache), so tiny inputs stay op by op."""
    return int(os.environ.get("TORCHTREK_EAGER_FUSE_MIN_NUMEL", 2048))


def _large(x: Any) -> bool:
    return (isinstance(x, _tensor_cls()) and x._var is None and x.dtype.is_floating_point
            and x.numel() >= fuse_min_numel() and not x.is_cuda and _native_ok())
