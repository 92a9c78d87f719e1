"""Asynchronous successive halving (ASHA; Li et al. 2020, Optuna's ``SuccessiveHalvingPruner``).

Rungs sit at resources ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``
for k = 0, 1, ... (below ``max_resource`` when one is given). When a trial's report first
reaches a rung, its loss there is compared with the losses of every trial that reached that
rung so far -- running, finished or pruned, in any process: it goes on when it is among the
best ``1/reduction_factor`` of them (or the best one while fewer than ``reduction_factor``
trials got there), and is pruned otherwise. The decision never waits for a rung to fill.

Budget-driven searches (``hpo.trial_budget()``, for objectives that cannot report per step)
use the same rungs the other way round: each new configuration gets the first rung's
resource, and a configuration among the best ``1/reduction_factor`` of the finished trials of
a rung is run again, as a new trial, at the next rung (ASHA's promotion).

>>> from hpo.reports import ReportBoard
>>> pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
>>> list(pruner.rungs(up_to=10))
[1, 2, 4, 8]
>>> board = ReportBoard()
>>> board.add(0, 1, 0.5); pruner.should_prune(board, 0, 1)   # alone at the rung: goes on
False
>>> board.add(1, 1, 0.7); pruner.should_prune(board, 1, 1)   # worse than the best half
True
"""

from __future__ import annotations

from .base import InvalidPrunerArgument, Pruner, check_factor, check_int


class SuccessiveHalvingPruner(Pruner):
    """ASHA: keep the best ``1/reduction_factor`` of the trials at each rung, never waiting.

    Parameters
    ----------
    min_resource : the first rung's resource (step), an int >= 1.
    reduction_factor : a number > 1; rungs grow by this factor and keep this fraction.
    min_early_stopping_rate : the first rung is at ``min_resource * reduction_factor **
        min_early_stopping_rate``.
    max_resource : no rung at or above it (None: no limit); with ``hpo.trial_budget()`` the
        largest budget granted.

    >>> from hpo import fmin, hp, tpe, report, TrialPruned, Trials
    >>> import numpy as np
    >>> def objective(x):
    ...     for epoch in range(1, 28):
    ...         if report(epoch, (x - 1) ** 2 + 1 / epoch):
    ...             raise TrialPruned()
    ...     return (x - 1) ** 2
    >>> trials = Trials()
    >>> _ = fmin(objective, hp.uniform("x", -3, 3), algo=tpe.suggest, max_evals=30,
    ...          trials=trials, pruner=SuccessiveHalvingPruner(min_resource=1),
    ...          rstate=np.random.default_rng(0), show_progressbar=False)
    >>> trials.statuses().count("pruned") > 10
    True
    """

    def __init__(self, min_resource=1, reduction_factor=3, min_early_stopping_rate=0,
                 max_resource=None):
        owner = type(self).__name__
        self.min_resource = check_int("min_resource", min_resource, 1, owner)
        self.reduction_factor = check_factor("reduction_factor", reduction_factor, owner)
        self.min_early_stopping_rate = check_int("min_early_stopping_rate",
                                                 min_early_stopping_rate, 0, owner)
        if max_resource is not None:
            max_resource = check_int("max_resource", max_resource, 1, owner)
            if max_resource < self._resource(0):
                raise InvalidPrunerArgument(
                    f"{owner}(max_resource={max_resource!r}): max_resource must be at least "
                    f"the first rung's resource {self._resource(0)!r} (min_resource="
                    f"{min_resource!r} * reduction_factor={reduction_factor!r} ** "
                    f"min_early_stopping_rate={min_early_stopping_rate!r})")
        self.max_resource = max_resource

    def _resource(self, k):
        value = self.min_resource * self.reduction_factor ** (self.min_early_stopping_rate + k)
        return int(value) if float(value).is_integer() else float(value)

    def rungs(self, up_to=None):
        """The rungs' resources, in increasing order, below ``up_to`` or ``max_resource``
        (an endless generator when neither is given)."""
        limit = up_to if up_to is not None else self.max_resource
        k = 0
        while True:
            resource = self._resource(k)
            if limit is not None and resource >= limit:
                return
            yield resource
            k += 1

    def _crossed(self, previous_step, step):
        """The rungs a report at ``step`` reaches for the first time."""
        crossed = []
        for resource in self.rungs():
            if resource > step:
                break
            if previous_step is None or previous_step < resource:
                crossed.append(resource)
        return crossed

    def decides_at(self, previous_step, step):
        return bool(self._crossed(previous_step, step))

    def should_prune(self, board, tid, step, members=None):
        """True when ``tid`` is not among the best at a rung it just reached.

        ``members(tid) -> bool`` restricts the competitors (a Hyperband bracket).
        """
        for resource in self._crossed(board.previous_step(tid), step):
            rung = board.reached(resource)
            value = rung.get(tid)
            if value is None:
                continue
            competing = sorted(loss for other, loss in rung.items()
                               if members is None or other == tid or members(other))
            if not self._promotable(value, competing):
                return True
        return False

    def _promotable(self, value, competing):
        # With fewer than reduction_factor trials at the rung, the best one so far goes on:
        # waiting for the rung to fill is what the asynchronous version never does.
        k = max(int(len(competing) // self.reduction_factor) - 1, 0)
        return value <= competing[k]

    # -- budgets (hpo.trial_budget) ------------------------------------------------------------

    def initial_budget(self, tid):
        first = self._resource(0)
        return first if self.max_resource is None else min(first, self.max_resource)

    def new_trial_misc(self, tid):
        return {"budget": self.initial_budget(tid)}

    def _next_budget(self, budget):
        if self.max_resource is not None and budget >= self.max_resource:
            return None
        bigger = budget * self.reduction_factor
        bigger = int(bigger) if float(bigger).is_integer() else float(bigger)
        return bigger if self.max_resource is None else min(bigger, self.max_resource)

    def promotions(self, board, n, members=None, extra=None):
        """Configurations to run again at the next budget: from the highest rung down, the
        best ``1/reduction_factor`` of a rung's finished trials that were not promoted yet."""
        chosen = []
        promoted = set(board.promoted)
        for budget in sorted(board.budget_results, reverse=True):
            if len(chosen) >= n:
                break
            bigger = self._next_budget(budget)
            if bigger is None:
                continue
            rung = {t: loss for t, loss in board.budget_results[budget].items()
                    if members is None or members(t)}
            n_top = int(len(rung) // self.reduction_factor)
            for tid in sorted(rung, key=lambda t: (rung[t], t))[:n_top]:
                if len(chosen) >= n:
                    break
                if tid not in promoted:
                    promoted.add(tid)
                    chosen.append(dict(extra or {}, budget=bigger, promoted_from=tid))
        return chosen


#: The name under which the asynchronous algorithm is best known.
ASHAPruner = SuccessiveHalvingPruner
