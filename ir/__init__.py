"""The IR: typed SSA graphs, the op registry, autodiff, passes and the text form."""

from .graph import Eqn, Graph, Literal, SourceLoc, TensorType, Var
from .parser import IRParseError, parse
from .printer import print_graph

__all__ = ["Eqn", "Graph", "Literal", "SourceLoc", "TensorType", "Var", "IRParseError", "parse",
           "print_graph"]
