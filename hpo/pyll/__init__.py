"""Compatibility with ``hyperopt.pyll``: ``scope``, ``Apply`` and ``stochastic.sample``.

Code written for Hyperopt that does ``from hyperopt.pyll import scope`` or
``hyperopt.pyll.stochastic.sample(space, rng=...)`` keeps working with ``hpo.pyll``.
"""

from ..spaces.nodes import Apply
from ..spaces.scope import scope
from . import base, stochastic

as_apply = base.as_apply

__all__ = ["Apply", "scope", "stochastic", "base", "as_apply"]
