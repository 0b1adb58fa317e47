"""torchtrek.nn: torch.nn's modules, parameters, initializers and functional forms."""

from . import functional, init
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _losses
from .padding import *  # noqa: F401,F403
from .padding import __all__ as _padding
from .modules import Module
from .parameter import Parameter
from . import parallel, utils
from .parallel import DataParallel

__all__ = ["functional", "init", "Module", "Parameter", "DataParallel", "parallel", "utils", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", *_layers,
           *_losses, *_padding]


def __getattr__(name: str) -> object:
    from .._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
