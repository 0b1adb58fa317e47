"""Every graph the suite compiled (recorded while TORCHTREK_VERIFY is on, see
runtime/compiled.py) is also generated as CUDA and compiled with nvcc for sm_80 and
sm_90. No GPU is needed. This folder is named zz_ so pytest collects it after all others
and the record is complete; run alone, it still compiles a representative set."""

import pytest

import torchtrek as tt
from torchtrek.codegen.cuda.check import compile_all, nvcc_path
from torchtrek.codegen.cuda.generator import generate
from torchtrek.runtime.compiled import RECORDED


def _representative_graphs():
    x, w = tt.randn(8, 5, requires_grad=True), tt.randn(5, 3, requires_grad=True)
    t = tt.tensor([0, 2, 1, 1, 0, 2, 2, 1])
    fns = [
        lambda x, w, t: tt.nn.functional.cross_entropy(tt.relu(x @ w), t),
        lambda x, w, t: (x.sigmoid() * x.tanh() + x.exp().log1p() if hasattr(x, "log1p") else x).sum(),
        lambda x, w, t: (x.T @ x).amax(0).sum() + x.mean(),
        lambda x, w, t: tt.where(x > 0, x ** 2, -x).sum(1).argmax(),
    ]
    for f in fns:
        cf = tt.compile(f)
        cf(x, w, t)


def test_nvcc_compiles_every_generated_cuda_module():
    if nvcc_path() is None:
        pytest.skip("nvcc not found: CUDA sources were not compile-checked on this machine")
    _representative_graphs()
    modules, unsupported = {}, {}
    for g in RECORDED:
        try:
            m = generate(g)
        except NotImplementedError as err:  # ops that have no CUDA kernel yet
            op = str(err).split("'")[1] if "'" in str(err) else str(err)
            unsupported[op] = unsupported.get(op, 0) + 1
            continue
        modules.setdefault(m.cuda_source, m)
    assert len(modules) >= 4
    errors = compile_all(list(modules.values()))
    print(f"\nnvcc: {len(modules)} distinct CUDA modules compiled for sm_80 and sm_90; "
          f"graphs with ops lacking CUDA kernels: {unsupported or 'none'}")
    assert not errors, errors[0]
