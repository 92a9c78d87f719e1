"""Keras helpers for searches: :class:`PruningCallback` reports each epoch to the running
trial and stops it when the search's pruner says so; :func:`report_every_fit` gives one to
every ``fit`` of a block of code (how template objectives report).

Importing ``hpo`` does not import Keras; ``hpo.keras`` does.

>>> from hpo.keras import PruningCallback
>>> PruningCallback(monitor="val_accuracy").mode
'max'
"""

from .every_fit import report_every_fit
from .pruning import PruningCallback, metric_mode

__all__ = ["PruningCallback", "metric_mode", "report_every_fit"]
