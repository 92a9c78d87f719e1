"""The ``hp.*`` constructors, with Hyperopt 0.3's names and parameterization.

Every constructor validates its arguments and raises :class:`InvalidSpaceArgument` naming the
label and the bad value, so a mistake shows up where the space is written, not deep inside
a search.

>>> from hpo import hp
>>> space = {
...     "lr": hp.loguniform("lr", -7, 0),            # exp(uniform(-7, 0))
...     "units": hp.quniform("units", 16, 256, 16),  # 16, 32, ..., 256
...     "model": hp.choice("model", [
...         {"kind": "svm", "C": hp.lognormal("C", 0, 1)},
...         {"kind": "tree", "depth": hp.randint("depth", 1, 10)},
...     ]),
... }
>>> from hpo import space_eval
>>> space_eval(space, {"lr": 0.01, "units": 64.0, "model": 1, "depth": 3})
{'lr': 0.01, 'units': 64.0, 'model': {'kind': 'tree', 'depth': 3}}
>>> from hpo.spaces import sample
>>> points = sample(space, rng=0, n=200)
>>> sorted({p["model"]["kind"] for p in points}), all(16 <= p["units"] <= 256 for p in points)
(['svm', 'tree'], True)
"""

from __future__ import annotations

import math
import numbers

from .errors import InvalidSpaceArgument
from .nodes import (
    LOGNORMAL,
    LOGUNIFORM,
    NORMAL,
    QLOGNORMAL,
    QLOGUNIFORM,
    QNORMAL,
    QUNIFORM,
    RANDINT,
    UNIFORM,
    UNIFORMINT,
    Choice,
    Param,
)

__all__ = [
    "choice", "pchoice", "randint", "uniform", "quniform", "uniformint", "loguniform",
    "qloguniform", "normal", "qnormal", "lognormal", "qlognormal",
]

# How far a pchoice's probabilities may sum away from 1 (rounding in user-written decimals).
_PROBABILITY_TOLERANCE = 1e-6


def _check_label(label):
    if not isinstance(label, str):
        raise InvalidSpaceArgument(
            f"label must be a non-empty string, got {label!r} of type {type(label).__name__}"
        )
    if not label:
        raise InvalidSpaceArgument("label must be a non-empty string, got ''")
    return label


def _number(label, name, value):
    """Validate that ``value`` is a finite real number and return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidSpaceArgument(
            f"{label!r}: {name} must be a real number, got {value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise InvalidSpaceArgument(f"{label!r}: {name} must be finite, got {value!r}")
    return value


def _bounds(label, low, high):
    low, high = _number(label, "low", low), _number(label, "high", high)
    if not low < high:
        raise InvalidSpaceArgument(f"{label!r}: low must be < high, got low={low!r}, high={high!r}")
    return low, high


def _positive(label, name, value):
    value = _number(label, name, value)
    if value <= 0:
        raise InvalidSpaceArgument(f"{label!r}: {name} must be > 0, got {name}={value!r}")
    return value


def _grid_has_a_point(label, low, high, q):
    """Quantized values are kept on the grid inside [low, high]; that grid must not be empty."""
    if math.ceil(low / q - 1e-9) > math.floor(high / q + 1e-9):
        raise InvalidSpaceArgument(
            f"{label!r}: no multiple of q={q!r} lies in [{low!r}, {high!r}]"
        )


def _param(label, kind, **args):
    return Param(label, kind, tuple(args.items()))


def uniform(label, low, high):
    """A float uniformly distributed on ``[low, high]``."""
    _check_label(label)
    low, high = _bounds(label, low, high)
    return _param(label, UNIFORM, low=low, high=high)


def quniform(label, low, high, q):
    """``round(uniform(low, high) / q) * q``, kept on the q-grid inside ``[low, high]``."""
    _check_label(label)
    low, high = _bounds(label, low, high)
    q = _positive(label, "q", q)
    _grid_has_a_point(label, low, high, q)
    return _param(label, QUNIFORM, low=low, high=high, q=q)


def uniformint(label, low, high, q=1.0):
    """An integer uniformly distributed on ``low, ..., high`` (both included).

    Every value is equally likely, the end values too (unlike ``quniform``, which rounds a
    uniform draw, so its end values get half the probability of the others). With ``q``,
    the values are the multiples of ``q`` (a whole number) in ``[low, high]``.

    >>> from hpo.spaces import sample
    >>> sorted(set(sample(uniformint("n", 0, 3), rng=0, n=100)))
    [0, 1, 2, 3]
    >>> sorted(set(sample(uniformint("even", 1, 9, q=2), rng=0, n=100)))
    [2, 4, 6, 8]
    """
    _check_label(label)
    low, high = _bounds(label, low, high)
    q = _positive(label, "q", q)
    if not q.is_integer():
        raise InvalidSpaceArgument(f"{label!r}: uniformint q must be a whole number, got q={q!r}")
    _grid_has_a_point(label, low, high, q)
    return _param(label, UNIFORMINT, low=low, high=high, q=q)


def loguniform(label, low, high):
    """``exp(uniform(low, high))``: ``low`` and ``high`` are bounds of the *logarithm*."""
    _check_label(label)
    low, high = _bounds(label, low, high)
    return _param(label, LOGUNIFORM, low=low, high=high)


def qloguniform(label, low, high, q):
    """``round(exp(uniform(low, high)) / q) * q``, kept on the q-grid inside ``[e^low, e^high]``."""
    _check_label(label)
    low, high = _bounds(label, low, high)
    q = _positive(label, "q", q)
    _grid_has_a_point(label, math.exp(low), math.exp(high), q)
    return _param(label, QLOGUNIFORM, low=low, high=high, q=q)


def normal(label, mu, sigma):
    """A float drawn from the normal distribution N(mu, sigma^2)."""
    _check_label(label)
    return _param(label, NORMAL, mu=_number(label, "mu", mu), sigma=_positive(label, "sigma", sigma))


def qnormal(label, mu, sigma, q):
    """``round(normal(mu, sigma) / q) * q``."""
    _check_label(label)
    return _param(
        label, QNORMAL, mu=_number(label, "mu", mu), sigma=_positive(label, "sigma", sigma),
        q=_positive(label, "q", q),
    )


def lognormal(label, mu, sigma):
    """``exp(normal(mu, sigma))``: always positive."""
    _check_label(label)
    return _param(
        label, LOGNORMAL, mu=_number(label, "mu", mu), sigma=_positive(label, "sigma", sigma)
    )


def qlognormal(label, mu, sigma, q):
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    _check_label(label)
    return _param(
        label, QLOGNORMAL, mu=_number(label, "mu", mu), sigma=_positive(label, "sigma", sigma),
        q=_positive(label, "q", q),
    )


def randint(label, *args, **kwargs):
    """An integer in ``[0, upper)`` (``randint(label, upper)``) or ``[low, high)``.

    >>> randint("n_layers", 1, 4)   # 1, 2 or 3
    hp.randint('n_layers', low=1, high=4)
    """
    _check_label(label)
    bound = dict(zip(("low", "high") if len(args) == 2 else ("upper",), args))
    bound.update(kwargs)
    if len(args) > 2 or set(bound) not in ({"upper"}, {"low", "high"}):
        raise InvalidSpaceArgument(
            f"{label!r}: randint takes (upper) or (low, high), got args={args!r} kwargs={kwargs!r}"
        )
    low, high = (0, bound["upper"]) if "upper" in bound else (bound["low"], bound["high"])
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if not (isinstance(value, numbers.Real) and float(value).is_integer()):
                raise InvalidSpaceArgument(
                    f"{label!r}: randint {name} must be an integer, got {value!r}"
                )
    low, high = int(low), int(high)
    if not low < high:
        raise InvalidSpaceArgument(
            f"{label!r}: randint needs low < high (high is excluded), got low={low}, high={high}"
        )
    return _param(label, RANDINT, low=low, high=high)


def choice(label, options):
    """One of ``options``; options may be constants or whole sub-spaces.

    The value recorded in a trial is the option's *index*; ``space_eval`` maps it back.
    """
    _check_label(label)
    if isinstance(options, (str, bytes, dict)) or not hasattr(options, "__len__"):
        raise InvalidSpaceArgument(
            f"{label!r}: choice options must be a list or tuple, got {type(options).__name__}"
        )
    if len(options) == 0:
        raise InvalidSpaceArgument(f"{label!r}: choice needs at least one option, got []")
    return Choice(label, tuple(options))


def pchoice(label, p_options):
    """One of several options with given probabilities: ``pchoice('x', [(0.2, 'a'), (0.8, 'b')])``."""
    _check_label(label)
    p_options = list(p_options) if hasattr(p_options, "__iter__") else p_options
    if not isinstance(p_options, list) or not p_options:
        raise InvalidSpaceArgument(
            f"{label!r}: pchoice needs a non-empty list of (probability, option) pairs, "
            f"got {p_options!r}"
        )
    probabilities = []
    for item in p_options:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise InvalidSpaceArgument(
                f"{label!r}: pchoice items must be (probability, option) pairs, got {item!r}"
            )
        p = _number(label, "probability", item[0])
        if p < 0:
            raise InvalidSpaceArgument(f"{label!r}: probabilities must be >= 0, got {p!r}")
        probabilities.append(p)
    total = math.fsum(probabilities)
    if abs(total - 1.0) > _PROBABILITY_TOLERANCE:
        raise InvalidSpaceArgument(
            f"{label!r}: pchoice probabilities must sum to 1, they sum to {total!r}"
        )
    return Choice(label, tuple(o for _, o in p_options), tuple(p / total for p in probabilities))

