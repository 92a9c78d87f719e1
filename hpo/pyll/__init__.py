"""Compatibility with ``hyperopt.pyll``: ``scope``, ``Apply`` and ``stochastic.sample``.

Code written for Hyperopt that does ``from hyperopt.pyll import scope`` or
``hyperopt.pyll.stochastic.sample(space, rng=...)`` keeps working with ``hpo.pyll``.
Hyperopt's graph internals (``dfs``, ``clone``, ``rec_eval``, ``toposort``, ``Literal``, ...)
are not offered; asking for one raises :class:`~hpo.exceptions.NotOfferedError` naming what
to use instead.

>>> from hpo.pyll import rec_eval
Traceback (most recent call last):
...
hpo.exceptions.NotOfferedImportError: hpo does not offer pyll.rec_eval (Hyperopt's expression-graph internals); to evaluate a space at a point use hpo.space_eval(space, point); to draw points use hpo.pyll.stochastic.sample(space, rng); to list its parameters use hpo.compile_space(space).params
"""

from ..exceptions import PYLL_INTERNALS, not_offered
from ..spaces.nodes import Apply
from ..spaces.scope import scope
from . import base, stochastic

as_apply = base.as_apply


def __getattr__(name):
    if name in PYLL_INTERNALS:
        raise not_offered(name)
    raise AttributeError(f"module 'hpo.pyll' has no attribute {name!r}")


__all__ = ["Apply", "scope", "stochastic", "base", "as_apply"]
