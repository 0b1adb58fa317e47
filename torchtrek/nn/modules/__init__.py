"""torch.nn.modules: the Module base class (module.py) and, as in torch, one submodule per
layer family (rnn, transformer, linear, activation, ...), so `torch.nn.modules.rnn.LSTM` and
the like resolve. The families written here live in this package; the older ones are in
torchtrek/nn/layers.py and friends and are re-exported by the alias submodules, which
torchtrek/nn/__init__.py imports once every layer exists."""

from .module import Module, _addindent

__all__ = ["Module"]
