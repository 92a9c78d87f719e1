"""``hyperopt.pyll.base`` names that user code imports: ``scope``, ``Apply``, ``as_apply``.

The graph internals (``dfs``, ``clone``, ``rec_eval``, ...) raise
:class:`~hpo.exceptions.NotOfferedError` naming what to use instead.

>>> from hpo.pyll.base import dfs
Traceback (most recent call last):
...
hpo.exceptions.NotOfferedImportError: hpo does not offer pyll.dfs (Hyperopt's expression-graph internals); to evaluate a space at a point use hpo.space_eval(space, point); to draw points use hpo.pyll.stochastic.sample(space, rng); to list its parameters use hpo.compile_space(space).params
"""

from ..exceptions import PYLL_INTERNALS, not_offered
from ..spaces.nodes import Apply
from ..spaces.scope import scope


def as_apply(obj):
    """Hyperopt wraps plain values into graph nodes; hpo spaces need no wrapping."""
    return obj


def __getattr__(name):
    if name in PYLL_INTERNALS:
        raise not_offered(name)
    raise AttributeError(f"module 'hpo.pyll.base' has no attribute {name!r}")


__all__ = ["Apply", "scope", "as_apply"]
