"""Which hyperparameters mattered: a first-order (fANOVA-style) variance decomposition.

fANOVA (Hutter et al., 2014) splits the variance of the loss over the search space into the
share explained by each parameter alone (its *main effect*) and by interactions. Optuna
estimates it on a random-forest surrogate; here the main effects are estimated from the
completed trials directly, which needs no model and no extra dependency and costs O(n log n)
numpy work per parameter:

1. losses of the ok trials are replaced by their ranks (scaled to [0, 1]), so one diverged
   trial with a huge loss cannot dominate the variance;
2. for each parameter, the trials where it was active are grouped -- by value for a choice
   (categorical) or any parameter with few distinct values, by equal-count bins of its
   values otherwise -- and the share of the loss variance explained by the group means
   (the correlation ratio, eta squared) is computed, corrected for the share that noise alone
   would explain with that many groups (as adjusted R squared is);
3. a *conditional* parameter is judged among the trials where it was active, and its share is
   scaled by how much of the total variance those trials hold: the difference between "active"
   and "inactive" belongs to the choice that activates it, not to the parameter;
4. the shares are normalized to sum to 1 (as Optuna's importances do).

A first-order method does not see interactions (a parameter that matters only together with
another one is under-rated); with the few hundred trials of a typical search, this direct
estimate is steadier than a surrogate's.

>>> from hpo import Trials, fmin, hp, rand
>>> import numpy as np
>>> trials = Trials()
>>> space = {"a": hp.uniform("a", 0, 1), "b": hp.uniform("b", 0, 1)}
>>> _ = fmin(lambda p: 10 * p["a"] + 0.1 * p["b"], space, algo=rand.suggest, max_evals=200,
...          trials=trials, show_progressbar=False, rstate=np.random.default_rng(0))
>>> imp = param_importances(trials)
>>> list(imp), bool(imp["a"] > 0.9)
(['a', 'b'], True)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

#: A parameter with at most this many distinct values is grouped by value, not binned.
MAX_GROUPS = 10


def param_importances(trials, labels=None, n_bins=MAX_GROUPS):
    """``{label: importance}`` over the ok trials, largest first, summing to 1.

    ``labels`` (default: every label with numeric values; architectures are left out)
    restricts the parameters; ``n_bins`` is the number of equal-count bins of a continuous
    parameter. With fewer than 3 ok trials, or losses that are all equal, every importance
    is 0.

    >>> from hpo import Trials
    >>> param_importances(Trials())
    {}
    """
    from .plotting.data import numeric_labels

    if not (isinstance(n_bins, int) and n_bins >= 2):
        raise ValueError(f"n_bins must be an int >= 2, got {n_bins!r}")
    h = trials.history
    known = numeric_labels(trials)
    if labels is None:
        labels = known
    else:
        labels = [labels] if isinstance(labels, str) else list(labels)
        unknown = [label for label in labels if label not in known]
        if unknown:
            raise ValueError(f"labels {unknown!r} have no numeric values in these trials; "
                             f"known labels: {known!r}")
    ok = h.ok & np.isfinite(h.losses)
    y = h.losses[ok]
    shares = {label: 0.0 for label in labels}
    if y.size >= 3 and np.ptp(y) > 0:
        y = (rankdata(y) - 1) / (y.size - 1)
        total = y.var() * y.size
        for label in labels:
            shares[label] = _main_effect(h.column(label)[ok], y, n_bins) / total
    norm = sum(shares.values())
    if norm > 0:
        shares = {label: share / norm for label, share in shares.items()}
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def _main_effect(values, y, n_bins):
    """The sum of squares of ``y`` explained by groups of ``values`` (NaN: inactive, left out),
    less what the same number of groups would explain by chance."""
    active = np.isfinite(values)
    v, y = values[active], y[active]
    n = v.size
    if n < 3:
        return 0.0
    groups = _groups(v, n_bins)
    k = int(groups.max()) + 1
    if k < 2 or n <= k:
        return 0.0
    counts = np.bincount(groups, minlength=k)
    means = np.bincount(groups, weights=y, minlength=k) / np.maximum(counts, 1)
    ss_total = float(((y - y.mean()) ** 2).sum())
    if ss_total == 0:
        return 0.0
    ss_between = float((counts * (means - y.mean()) ** 2).sum())
    eta2 = ss_between / ss_total
    # Adjusted like R squared: k groups explain (k - 1) / (n - 1) of pure noise on average.
    adjusted = 1 - (1 - eta2) * (n - 1) / (n - k)
    return max(adjusted, 0.0) * ss_total


def _groups(v, n_bins):
    """Group index per value: one group per distinct value when there are few, else
    equal-count bins (ties stay in one bin)."""
    distinct, inverse = np.unique(v, return_inverse=True)
    if distinct.size <= n_bins:
        return inverse
    edges = np.quantile(v, np.linspace(0, 1, n_bins + 1)[1:-1])
    bins = np.searchsorted(np.unique(edges), v, side="right")
    _, compact = np.unique(bins, return_inverse=True)
    return compact
