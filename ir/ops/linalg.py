"""Ops of the linalg family (see core.py for the conventions: one OpDef per op).

Contractions (mm, bmm, einsum, tensordot, ...) lower to the core matmul, permute,
reshape, mul and sum in the front end (torchtrek/ops/linalg.py), so their gradients come
from those ops. The one op declared here is the diagonal mask that traces and
repeated einsum subscripts select with.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import dtypes
from ..graph import TensorType
from ..opdef import OpDef, register


def _infer_eye_mask(types: Sequence[TensorType], a: dict[str, Any]) -> tuple[TensorType, ...]:
    return (TensorType((a["n"], a["m"]), dtypes.bool_),)


# eye_mask[n, m]: a bool (n, m) constant, True on the main diagonal.
register(OpDef("eye_mask", "creation", _infer_eye_mask, vjp=lambda b, e, ct: [],
               torch_name="Eye", differentiable=False,
               emit={"numpy": "np.eye({n}, {m}, dtype=np.bool_)"}))
