"""torch.nn.attention: which implementation scaled_dot_product_attention may use.

    with torch.nn.attention.sdpa_kernel(SDPBackend.MATH):
        y = F.scaled_dot_product_attention(q, k, v)   # the composition, twice differentiable

TorchTrek has two: the fused kernel (FLASH_ATTENTION, torch's CPU choice) and the math
composition (MATH). EFFICIENT_ATTENTION and CUDNN_ATTENTION are accepted, as torch accepts
them on a CPU, and select nothing of ours; with neither of ours allowed, the math path runs.
"""

from __future__ import annotations

import contextlib
import enum
from typing import Iterator, Sequence

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_allowed: frozenset[SDPBackend] = frozenset(SDPBackend) - {SDPBackend.ERROR}


def fused_allowed() -> bool:
    return SDPBackend.FLASH_ATTENTION in _allowed


@contextlib.contextmanager
def sdpa_kernel(backends: SDPBackend | Sequence[SDPBackend], set_priority: bool = False
                ) -> Iterator[None]:
    """Allow only `backends` inside the block (as torch.nn.attention.sdpa_kernel)."""
    global _allowed
    chosen = [backends] if isinstance(backends, SDPBackend) else list(backends)
    for b in chosen:
        if not isinstance(b, SDPBackend):
            raise TypeError(f"sdpa_kernel: expected SDPBackend values, got {b!r}")
    before = _allowed
    _allowed = frozenset(chosen)
    try:
        yield
    finally:
        _allowed = before
