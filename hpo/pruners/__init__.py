"""Pruners: stop hopeless trials early from the losses they report (``hpo.report``).

``fmin(objective, space, algo, max_evals, pruner=...)`` with

- :class:`MedianPruner`: stop a trial worse than the median of completed trials at a step;
- :class:`SuccessiveHalvingPruner` (alias :data:`ASHAPruner`): asynchronous successive
  halving, keep the best ``1/reduction_factor`` at each rung, never waiting;
- :class:`HyperbandPruner`: brackets of ASHA with different aggressiveness.

Pruners decide from every trial's reports wherever the trials run (this process, or
``hpo-worker`` processes on SQLite or MongoDB); see ``docs/pruning.md``.

>>> from hpo import pruners
>>> pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0, max_resource=None)
"""

from __future__ import annotations

from .base import InvalidPrunerArgument, Pruner
from .hyperband import HyperbandPruner
from .median import MedianPruner
from .successive_halving import ASHAPruner, SuccessiveHalvingPruner

__all__ = ["ASHAPruner", "HyperbandPruner", "InvalidPrunerArgument", "MedianPruner", "Pruner",
           "SuccessiveHalvingPruner"]
