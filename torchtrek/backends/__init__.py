"""torch.backends: the flags scripts set (tf32, cudnn.benchmark, ...). They are accepted and
recorded; TorchTrek's kernels do not read them (it has no tf32 or cuDNN paths)."""

from __future__ import annotations

from types import SimpleNamespace

from ..devices import cuda as _cuda


class _Flags(SimpleNamespace):
    pass


cudnn = _Flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
               is_available=lambda: False, version=lambda: None)
cuda = _Flags(matmul=_Flags(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                            allow_bf16_reduced_precision_reduction=True),
              is_built=lambda: _cuda.is_available(),
              enable_flash_sdp=lambda enabled: None, enable_mem_efficient_sdp=lambda enabled: None,
              enable_math_sdp=lambda enabled: None, flash_sdp_enabled=lambda: False,
              mem_efficient_sdp_enabled=lambda: False, math_sdp_enabled=lambda: True)
mps = _Flags(is_available=lambda: False, is_built=lambda: False)
mkldnn = _Flags(enabled=False, is_available=lambda: False)
openmp = _Flags(is_available=lambda: False)
opt_einsum = _Flags(enabled=False, strategy=None, is_available=lambda: False)

__all__ = ["cudnn", "cuda", "mps", "mkldnn", "openmp", "opt_einsum"]
