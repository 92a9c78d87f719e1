"""``hyperopt.pyll.stochastic.sample``: one random value of a space."""

from ..spaces.evaluate import sample as _sample


def sample(expr, rng=None, **kwargs):
    """One value of ``expr`` drawn from its prior.

    >>> from hpo import hp
    >>> from hpo.pyll import stochastic
    >>> 0 <= stochastic.sample(hp.uniform("x", 0, 1), rng=1) <= 1
    True
    """
    if kwargs:
        raise TypeError(f"sample() got unexpected arguments {sorted(kwargs)}")
    return _sample(expr, rng=rng)
