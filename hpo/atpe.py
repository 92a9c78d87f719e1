"""``hyperopt.atpe`` (Adaptive TPE) is not offered by hpo; use ``tpe.suggest``.

``from hpo import atpe`` and ``from hpo.atpe import suggest`` raise
:class:`~hpo.exceptions.NotOfferedError` saying so, as does reading Hyperopt's ``suggest`` or ``ATPEOptimizer`` from this module.

>>> import hpo.atpe
>>> hpo.atpe.suggest
Traceback (most recent call last):
...
hpo.exceptions.NotOfferedImportError: hpo does not offer atpe (Hyperopt's Adaptive TPE); use algo=tpe.suggest (from hpo import tpe)
"""

from .exceptions import not_offered as _not_offered


def __getattr__(name):
    if name in ("suggest", "ATPEOptimizer"):
        raise _not_offered("atpe")
    raise AttributeError(f"module 'hpo.atpe' has no attribute {name!r}")
