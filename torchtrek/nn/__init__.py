"""torchtrek.nn: torch.nn's modules, parameters, initializers and functional forms."""

from . import functional, init
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _losses
from .padding import *  # noqa: F401,F403
from .modules.rnn import *  # noqa: F401,F403
from .modules.rnn import __all__ as _rnn
from .modules.transformer import *  # noqa: F401,F403
from .modules.transformer import __all__ as _transformer
from .padding import __all__ as _padding
from .modules import Module
from .parameter import Parameter
from . import parallel, utils
from .parallel import DataParallel

__all__ = ["functional", "init", "Module", "Parameter", "DataParallel", "parallel", "utils", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", *_layers,
           *_losses, *_padding, *_rnn, *_transformer]

# torch.nn.modules.<family>: where torch keeps each class (for pickles and safe_globals lists)
from .modules import (activation, container, conv, dropout, flatten, linear, loss,  # noqa: E402
                      normalization, padding, pooling, rnn, sparse, transformer)


def __getattr__(name: str) -> object:
    from .._as_torch import unsupported_attribute

    raise unsupported_attribute(__name__, name)
