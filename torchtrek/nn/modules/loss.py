"""torch.nn.modules.loss: where torch keeps these classes (defined in loss.py)."""

from __future__ import annotations

from ..loss import *  # noqa: F401,F403
from ..loss import __all__
