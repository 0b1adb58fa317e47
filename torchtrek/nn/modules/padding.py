"""torch.nn.modules.padding: where torch keeps these classes (defined in padding.py)."""

from __future__ import annotations

from ..padding import *  # noqa: F401,F403
from ..padding import __all__
