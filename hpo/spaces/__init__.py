"""The search-space language: ``hp.*`` constructors, nodes, compilation, sampling, evaluation.

This package imports nothing else of hpo, so it can be used (and tested) on its own.
"""

from . import hp
from .compile import CompiledSpace, ParamSpec, compile_space
from .custom import custom
from .evaluate import as_generator, sample, space_eval
from .nodes import Apply, Choice, Node, Param
from .scope import scope

__all__ = [
    "hp", "custom", "CompiledSpace", "ParamSpec", "compile_space", "as_generator", "sample", "space_eval",
    "Apply", "Choice", "Node", "Param", "scope",
]
