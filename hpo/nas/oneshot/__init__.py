"""Weight-sharing (one-shot) architecture search over ``nas.space.cells``.

A :class:`Supernet` holds one layer stack per (cell position, block, slot, op); a child cell
is a path through it. :class:`SharedWeightsObjective` trains each trial's child a few
minibatches on its path and scores it on validation data, so a child costs seconds instead
of a training run. The search strategies are ordinary ``algo=`` plugins: ``random.suggest``
(uniform children), :mod:`hpo.nas.enas` (a REINFORCE controller) and, without sharing,
:mod:`hpo.nas.nasnet`; :mod:`hpo.nas.darts` relaxes the choice into a softmax mixture.
:func:`finalize` retrains the best children from scratch and exports the best.

>>> from hpo.nas import oneshot
>>> sorted(n for n in oneshot.__all__ if n.islower())
['finalize', 'random']
"""

from . import random
from .finalize import finalize
from .objective import SUPERNET_PREFIX, SharedWeightsObjective, SupernetSharingError
from .supernet import Supernet

__all__ = [
           "SUPERNET_PREFIX",
           "SharedWeightsObjective",
           "Supernet",
           "SupernetSharingError",
           "finalize",
           "random",
]
