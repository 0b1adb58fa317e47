"""torchtrek.nn: torch.nn's modules, parameters, initializers and functional forms."""

from . import functional, init
from .containers import ModuleList, Sequential
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _losses
from .modules import Module
from .parameter import Parameter

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "ModuleList", *_layers,
           *_losses]
