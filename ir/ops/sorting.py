"""The sorting family: `argsort` (stable, along one dim). Sorted values are a `gather` of the
input at these indices, so their gradient is gather's (a scatter_add), with no rule here.

Order as torch's: NaN sorts above every number (last ascending, first descending); ties keep
their input order in both directions.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import dtypes
from ..graph import TensorType
from ..opdef import OpDef, register


def _infer_argsort(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    return (TensorType(types[0].shape, dtypes.int64),)


def _emit_argsort(args: list[str], a: dict[str, Any], in_types, out_type) -> str:
    d, x = a["dim"], args[0]
    if not a["descending"]:
        return f"np.argsort({x}, axis={d}, kind='stable')"
    # descending and stable: sort the reversed line ascending, read it backwards
    n = in_types[0].shape[d]
    return f"({n} - 1 - np.flip(np.argsort(np.flip({x}, {d}), axis={d}, kind='stable'), {d}))"


register(OpDef("argsort", "select", _infer_argsort, torch_name="Sort", differentiable=False,
               emit={"numpy": _emit_argsort}))
