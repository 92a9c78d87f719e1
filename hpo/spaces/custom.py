"""Parameters whose values are objects drawn by a prior of your own (e.g. architectures).

A *prior* is any object with ``sample(rng) -> value`` where ``rng`` is a
``numpy.random.Generator`` and ``value`` is JSON-serializable (it is stored in trial
documents). Optional methods: ``validate(value)`` raising ``ValueError`` for a value that does
not belong to the parameter, and ``decode(value)`` turning the stored value into what the
objective receives. Search algorithms that cannot model such a parameter draw it from the
prior (``rand``, ``anneal``, ``tpe``); grid search refuses it.

>>> import numpy as np
>>> from hpo.spaces import sample
>>> class Word:
...     def sample(self, rng):
...         return str(rng.choice(["a", "b"]))
>>> sample({"w": custom("w", Word())}, rng=0)["w"] in ("a", "b")
True
"""

from __future__ import annotations

from .errors import InvalidSpaceArgument
from .hp import _check_label
from .nodes import OBJECT, Param


def custom(label, prior):
    """A parameter whose values are drawn by ``prior.sample(rng)``."""
    _check_label(label)
    if not callable(getattr(prior, "sample", None)):
        raise InvalidSpaceArgument(
            f"{label!r}: prior must have a sample(rng) method, got {type(prior).__name__}"
        )
    return Param(label, OBJECT, (("prior", prior),))
