"""Simulated-annealing-style search (Hyperopt's ``anneal``).

Each suggestion picks a *model trial* among the finished ones -- its rank in loss order is
drawn from a geometric distribution with mean ``avg_best_idx`` (0 is the best) -- and samples
every parameter near the model trial's value. The neighbourhood shrinks as a parameter is
observed more often: with ``T`` observations its width is ``1 / (1 + T * shrink_coef)`` of
the prior's. Bounded parameters sample uniformly in a window of that width (in log space for
log distributions), normal ones with sigma scaled the same way, and categorical ones from
``shrink * prior + (1 - shrink) * one_hot(model value)``. A parameter inactive in the model
trial is modelled on a runner-up trial where it was active, or drawn from the prior.

Unlike Hyperopt's version, several ids can be asked for at once (each gets its own draws).

>>> from functools import partial
>>> from hpo import fmin, hp, anneal
>>> import numpy as np
>>> best = fmin(lambda x: (x - 2) ** 2, hp.uniform("x", -10, 10),
...             algo=partial(anneal.suggest, shrink_coef=0.2), max_evals=60,
...             rstate=np.random.default_rng(1), show_progressbar=False)
>>> abs(best["x"] - 2) < 0.5
True
"""

from __future__ import annotations

import numpy as np

from ..spaces.nodes import BOUNDED_KINDS, CHOICE, RANDINT, UNIFORMINT
from .common import docs_from_rows, ranking_losses


def _rank_pick(rng, order, avg_best_idx):
    """Index into ``order`` (trial rows sorted by loss) drawn geometrically from the best."""
    rank = rng.geometric(1.0 / avg_best_idx) - 1
    return order[min(rank, len(order) - 1)]


def _sample_near(spec, value, shrink, rng):
    """One value of ``spec`` near ``value`` (in the parameter's own scale)."""
    if spec.kind in (CHOICE, RANDINT):
        n = spec.n_options if spec.kind == CHOICE else spec.high - spec.low
        offset = 0 if spec.kind == CHOICE else spec.low
        prior = spec.probabilities if spec.probabilities is not None else np.full(n, 1.0 / n)
        p = shrink * prior
        p[int(value) - offset] += 1.0 - shrink
        return float(rng.choice(n, p=p / p.sum()) + offset)
    center = float(spec.to_search(value))
    if not np.isfinite(center):  # e.g. a qlognormal value of 0 has no log
        return float(spec.sample(rng, 1)[0])
    if spec.kind in BOUNDED_KINDS:
        low, high = spec.low, spec.high
        if spec.kind == UNIFORMINT:
            # The window spans whole bins of the integers, so with no shrinking (the prior)
            # every value is equally likely, the end values too.
            low, high = spec.value_bounds()
            low, high = low - spec.q / 2, high + spec.q / 2
        half = 0.5 * (high - low) * shrink
        center = min(max(center, low + half), high - half)
        drawn = rng.uniform(center - half, center + half)
    else:
        drawn = rng.normal(center, spec.sigma * shrink)
    return float(spec.to_value(np.array([drawn]))[0])


def suggest(new_ids, domain, trials, seed, avg_best_idx=2.0, shrink_coef=0.1):
    """Suggest ``len(new_ids)`` configurations near good finished trials."""
    if avg_best_idx < 1:
        raise ValueError(f"avg_best_idx must be >= 1 (a mean rank), got {avg_best_idx!r}")
    if shrink_coef < 0:
        raise ValueError(f"shrink_coef must be >= 0, got {shrink_coef!r}")
    rng = np.random.default_rng(seed)
    compiled = domain.compiled
    history = trials.history
    losses = ranking_losses(history)  # pruned trials rank by their last report
    order = np.argsort(losses, kind="stable")
    values = history.matrix(compiled.labels)  # (n_finished, n_params), NaN where inactive
    observed = np.sum(~np.isnan(values), axis=0)
    rows = np.full((len(new_ids), len(compiled)), np.nan)
    for i in range(len(new_ids)):
        row = rows[i]
        model = _rank_pick(rng, order, avg_best_idx) if len(order) else None
        for spec in compiled.params:
            if not spec.always_active and not any(
                row[parent] == option for parent, option in spec.parents
            ):
                continue  # inactive under the choices made so far in this row
            column = values[:, spec.column] if model is not None else None
            source = model
            if column is not None and np.isnan(column[source]):
                active_rows = order[~np.isnan(column[order])]
                source = _rank_pick(rng, active_rows, avg_best_idx) if len(active_rows) else None
            if source is None:
                row[spec.column] = spec.sample(rng, 1)[0]
            else:
                shrink = 1.0 / (1.0 + observed[spec.column] * shrink_coef)
                row[spec.column] = _sample_near(spec, column[source], shrink, rng)
    return docs_from_rows(new_ids, domain, trials, rows)
