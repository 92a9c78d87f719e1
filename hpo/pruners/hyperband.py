"""Hyperband (Li et al. 2018) as brackets of asynchronous successive halving.

Bracket ``s`` (s = 0 .. n_brackets - 1, ``n_brackets = floor(log_eta(max_resource /
min_resource)) + 1``) is an ASHA whose first rung is at ``min_resource * eta ** s``: bracket 0
stops trials most aggressively, the last one lets every trial reach ``max_resource``. Each
trial belongs to one bracket, drawn from its tid with Hyperband's proportions (more trials in
the aggressive brackets), and competes only with the trials of its bracket. With
``tpe.suggest`` as the algorithm this is BOHB-like: TPE models every trial, the pruned ones by
their last report (see ``docs/pruning.md``).

>>> pruner = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
>>> pruner.n_brackets, [list(b.rungs()) for b in pruner.brackets]
(4, [[1, 3, 9], [3, 9], [9], []])
>>> [pruner.bracket_of(tid) for tid in range(12)]
[0, 1, 0, 2, 0, 0, 1, 0, 3, 1, 0, 2]
"""

from __future__ import annotations

import math

from .base import InvalidPrunerArgument, Pruner, check_factor, check_int
from .successive_halving import SuccessiveHalvingPruner

_GOLDEN = 2654435761  # Knuth's multiplicative hash: consecutive tids spread over brackets


class HyperbandPruner(Pruner):
    """Brackets of ASHA between ``min_resource`` and ``max_resource``.

    Parameters
    ----------
    min_resource : the smallest resource (step) at which a trial can be stopped, an int >= 1.
    max_resource : the resource (step) of a complete trial, an int > ``min_resource``.
    reduction_factor : a number > 1; each rung keeps ``1/reduction_factor`` of its trials.

    >>> from hpo import fmin, hp, tpe, report, TrialPruned, Trials
    >>> import numpy as np
    >>> def objective(x):
    ...     for epoch in range(1, 28):
    ...         if report(epoch, (x - 1) ** 2 + 1 / epoch):
    ...             raise TrialPruned()
    ...     return (x - 1) ** 2
    >>> trials = Trials()
    >>> _ = fmin(objective, hp.uniform("x", -3, 3), algo=tpe.suggest, max_evals=40,
    ...          trials=trials, pruner=HyperbandPruner(min_resource=1, max_resource=27),
    ...          rstate=np.random.default_rng(0), show_progressbar=False)
    >>> 0 < trials.statuses().count("pruned") < 40
    True
    """

    def __init__(self, min_resource=1, max_resource=81, reduction_factor=3):
        owner = type(self).__name__
        self.min_resource = check_int("min_resource", min_resource, 1, owner)
        self.max_resource = check_int("max_resource", max_resource, 1, owner)
        self.reduction_factor = check_factor("reduction_factor", reduction_factor, owner)
        if self.max_resource <= self.min_resource:
            raise InvalidPrunerArgument(
                f"{owner}(min_resource={min_resource!r}, max_resource={max_resource!r}): "
                f"max_resource must be larger than min_resource")
        ratio = math.log(self.max_resource / self.min_resource) / math.log(self.reduction_factor)
        # A small tolerance: log(27) / log(3) is 3.0000000000000004.
        self.n_brackets = math.floor(ratio + 1e-9) + 1
        self.brackets = [SuccessiveHalvingPruner(self.min_resource, reduction_factor, s,
                                                 self.max_resource)
                         for s in range(self.n_brackets)]
        # Hyperband's number of configurations per bracket (most in the aggressive ones).
        n = self.n_brackets
        self._weights = [math.ceil(n / (n - s) * self.reduction_factor ** (n - 1 - s))
                         for s in range(n)]

    def __repr__(self):
        return (f"HyperbandPruner(min_resource={self.min_resource!r}, max_resource="
                f"{self.max_resource!r}, reduction_factor={self.reduction_factor!r})")

    def bracket_of(self, tid, board=None):
        """The bracket of trial ``tid``: the one in its document (a promoted configuration's),
        else drawn from the tid."""
        if board is not None and tid in board.bracket:
            return board.bracket[tid]
        point = (int(tid) * _GOLDEN) % 2**32 / 2**32 * sum(self._weights)
        for s, weight in enumerate(self._weights):
            point -= weight
            if point < 0:
                return s
        return self.n_brackets - 1

    def decides_at(self, previous_step, step):
        # Bracket 0's rungs include every other bracket's.
        return self.brackets[0].decides_at(previous_step, step)

    def should_prune(self, board, tid, step):
        s = self.bracket_of(tid, board)
        return self.brackets[s].should_prune(
            board, tid, step, members=lambda other: self.bracket_of(other, board) == s)

    def initial_budget(self, tid):
        return self.brackets[self.bracket_of(tid)].initial_budget(tid)

    def new_trial_misc(self, tid):
        s = self.bracket_of(tid)
        return {"budget": self.brackets[s].initial_budget(tid), "bracket": s}

    def promotions(self, board, n):
        chosen = []
        for s, bracket in enumerate(self.brackets):
            if len(chosen) >= n:
                break
            chosen += bracket.promotions(
                board, n - len(chosen), members=lambda t, s=s: self.bracket_of(t, board) == s,
                extra={"bracket": s})
        return chosen
