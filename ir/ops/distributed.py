"""The distributed family: `all_reduce` (reduction "sum" or "avg") across the MPI world, so that a
compiled training step around DistributedDataParallel averages its gradients inside the
generated code, between the backward and the optimizer update. The NumPy emitter calls
torchtrek.distributed at run time (the only generated code that is not standalone); there is
no gradient (DDP reduces gradients, it does not differentiate through the reduction)."""

from __future__ import annotations

from typing import Any, Sequence

from ..graph import TensorType
from ..opdef import OpDef, register


def _infer(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    return (types[0],)


def _emit(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    return (f"__import__('torchtrek.distributed', fromlist=['graph_all_reduce'])"
            f".graph_all_reduce({args[0]}, {a['reduction']!r})")


register(OpDef("all_reduce", "select", _infer, torch_name="AllReduce", differentiable=False,
               emit={"numpy": _emit}))
