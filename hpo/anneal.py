"""``hyperopt.anneal``: annealing search, as :mod:`hpo.algos.anneal`.

>>> import hpo.anneal, hpo.algos.anneal
>>> hpo.anneal.suggest is hpo.algos.anneal.suggest
True
"""

from .algos.anneal import suggest

__all__ = ["suggest"]
