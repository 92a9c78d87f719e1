"""Deferred functions over space nodes, Hyperopt's ``scope``.

``scope.int(hp.quniform('n', 1, 9, 1))`` builds a node that turns the sampled float into an
int when the sample is evaluated. Any function can be made available the same way with
``@scope.define``:

>>> from hpo import hp
>>> from hpo.pyll import scope
>>> @scope.define
... def units(n_layers):
...     return [64] * n_layers
>>> space = {"units": scope.units(hp.randint("n_layers", 1, 4))}
>>> from hpo import space_eval
>>> space_eval(space, {"n_layers": 2})
{'units': [64, 64]}
"""

from __future__ import annotations

import math

from .nodes import Apply


class Scope:
    """A namespace of functions whose calls build :class:`Apply` nodes."""

    def __init__(self):
        self._functions = {}

    def define(self, fn):
        """Register ``fn`` so that ``scope.<name>(...)`` builds a deferred call; returns ``fn``."""
        self._functions[fn.__name__] = fn
        return fn

    # Hyperopt's alias, kept for migrating code.
    define_pure = define

    def __getattr__(self, name):
        try:
            fn = self._functions[name]
        except KeyError:
            raise AttributeError(
                f"scope has no function {name!r}; register one with @scope.define"
            ) from None

        def deferred(*args, **kwargs):
            return Apply(fn, args, tuple(kwargs.items()))

        deferred.__name__ = name
        return deferred


scope = Scope()
for _fn in (int, float, abs, min, max, round, bool, str, len, sum, tuple, list, dict):
    scope.define(_fn)
for _name in ("exp", "log", "sqrt", "ceil", "floor"):
    scope.define(getattr(math, _name))


@scope.define
def switch(index, *options):
    """``options[index]``: a choice among already-built values."""
    return options[index]


@scope.define
def identity(x):
    return x
