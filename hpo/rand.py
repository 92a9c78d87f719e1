"""``hyperopt.rand``: random search, as :mod:`hpo.algos.rand`.

>>> import hpo.rand, hpo.algos.rand
>>> hpo.rand.suggest is hpo.algos.rand.suggest, hpo.rand.suggest_batch is hpo.algos.rand.suggest_batch
(True, True)
"""

from .algos.rand import suggest, suggest_batch

__all__ = ["suggest", "suggest_batch"]
