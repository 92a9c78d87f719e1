"""Random search: every suggestion is an independent draw from the space's prior.

>>> from hpo import fmin, hp, rand
>>> best = fmin(lambda x: (x - 1) ** 2, hp.uniform("x", -3, 3), algo=rand.suggest,
...             max_evals=20, show_progressbar=False, rstate=__import__("numpy").random.default_rng(0))
>>> abs(best["x"] - 1) < 1
True
"""

from __future__ import annotations

import numpy as np

from .common import docs_from_rows


def suggest(new_ids, domain, trials, seed):
    """Draw ``len(new_ids)`` configurations from the prior, reproducibly for a given seed."""
    rng = np.random.default_rng(seed)
    rows = domain.compiled.sample_table(rng, len(new_ids))
    return docs_from_rows(new_ids, domain, trials, rows)


def suggest_batch(new_ids, domain, trials, seed):
    """Hyperopt's alias of :func:`suggest`."""
    return suggest(new_ids, domain, trials, seed)
