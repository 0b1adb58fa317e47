import itertools

import pytest
import torch

from torchtrek.ir import dtypes

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_matches_torch(a, b):
    got = dtypes.promote_types(dtypes.BY_NAME[a], dtypes.BY_NAME[b])
    want = torch.promote_types(getattr(torch, a), getattr(torch, b))
    assert got.name == str(want).split(".")[-1]


SCALARS = [True, 3, 2.5]


@pytest.mark.parametrize("dim_dtype", ["bool", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("zero_dtype", [None, "bool", "int32", "float64"])
@pytest.mark.parametrize("scalar", [None, *SCALARS])
def test_result_type_three_groups_matches_torch(dim_dtype, zero_dtype, scalar):
    import torchtrek as tt

    ops_torch = [torch.ones(2, dtype=getattr(torch, dim_dtype))]
    ops_tt = [tt.ones(2, dtype=getattr(tt, "bool" if dim_dtype == "bool" else dim_dtype))]
    if zero_dtype:
        ops_torch.append(torch.tensor(1, dtype=getattr(torch, zero_dtype)))
        ops_tt.append(tt.tensor(1, dtype=getattr(tt, zero_dtype)))
    if scalar is not None:
        ops_torch.append(scalar)
        ops_tt.append(scalar)
    want = _torch_result_type(ops_torch)
    assert tt.result_type(*ops_tt).name == str(want).split(".")[-1]


def _torch_result_type(ops):
    # torch.result_type takes two operands; adding left to right applies the same rules
    # (the running result keeps its dims, so it stays in the highest-priority group)
    out = ops[0]
    for o in ops[1:]:
        out = out + o if out.dtype != torch.bool or not isinstance(o, bool) else out | o
    return out.dtype
