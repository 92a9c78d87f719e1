"""``hyperopt.hp``: the ``hp.*`` constructors of :mod:`hpo.spaces.hp`, importable by name.

``from hpo.hp import choice, uniform`` and ``from hpo import hp; hp.choice(...)`` both work
and build the same nodes.

>>> from hpo.hp import choice, uniform
>>> from hpo import hp, space_eval
>>> choice is hp.choice
True
>>> space_eval({"m": choice("m", ["a", "b"]), "x": uniform("x", 0, 1)}, {"m": 1, "x": 0.5})
{'m': 'b', 'x': 0.5}
"""

from .spaces.hp import (
    choice,
    lognormal,
    loguniform,
    normal,
    pchoice,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
    uniformint,
)

__all__ = [
    "choice", "pchoice", "randint", "uniform", "quniform", "uniformint", "loguniform",
    "qloguniform", "normal", "qnormal", "lognormal", "qlognormal",
]
