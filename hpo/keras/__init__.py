"""Keras helpers for searches: :class:`PruningCallback` reports each epoch to the running
trial and stops it when the search's pruner says so.

Importing ``hpo`` does not import Keras; ``hpo.keras`` does.

>>> from hpo.keras import PruningCallback
>>> PruningCallback(monitor="val_accuracy").mode
'max'
"""

from .pruning import PruningCallback, metric_mode

__all__ = ["PruningCallback", "metric_mode"]
