"""The median rule: stop a trial whose best loss so far is worse than the median of the
completed trials' losses at the same step (Optuna's ``MedianPruner``).

>>> from hpo.reports import ReportBoard
>>> board = ReportBoard()
>>> for tid, loss in enumerate([0.2, 0.4, 0.6]):
...     board.add(tid, 5, loss); board.finish(tid, "ok")
>>> pruner = MedianPruner(n_startup_trials=3)
>>> board.add(3, 5, 0.5); pruner.should_prune(board, 3, 5)
True
>>> board.add(4, 5, 0.3); pruner.should_prune(board, 4, 5)
False
"""

from __future__ import annotations

from .base import Pruner, check_int


class MedianPruner(Pruner):
    """Prune a trial whose best reported loss is above the median of completed trials' losses
    at the same step.

    Parameters
    ----------
    n_startup_trials : no trial is pruned until this many trials completed (status ok).
    n_warmup_steps : no trial is pruned at a step below this.
    interval : decide only every ``interval`` steps after the warm-up (steps
        ``n_warmup_steps``, ``n_warmup_steps + interval``, ...).
    n_min_trials : decide only when at least this many completed trials reported at the step.

    Completed trials count wherever they ran (this process, other workers).

    >>> from hpo import fmin, hp, rand, report, TrialPruned
    >>> import numpy as np
    >>> def objective(x):
    ...     for epoch in range(10):
    ...         if report(epoch, x * x + 1 / (epoch + 1)):
    ...             raise TrialPruned()
    ...     return x * x
    >>> trials = __import__("hpo").Trials()
    >>> _ = fmin(objective, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=30,
    ...          trials=trials, pruner=MedianPruner(n_startup_trials=5),
    ...          rstate=np.random.default_rng(0), show_progressbar=False)
    >>> trials.statuses().count("pruned") > 5
    True
    """

    def __init__(self, n_startup_trials=5, n_warmup_steps=0, interval=1, n_min_trials=1):
        owner = type(self).__name__
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 0, owner)
        self.n_warmup_steps = check_int("n_warmup_steps", n_warmup_steps, 0, owner)
        self.interval = check_int("interval", interval, 1, owner)
        self.n_min_trials = check_int("n_min_trials", n_min_trials, 1, owner)

    def decides_at(self, previous_step, step):
        return step >= self.n_warmup_steps and (step - self.n_warmup_steps) % self.interval == 0

    def should_prune(self, board, tid, step):
        if board.n_completed < self.n_startup_trials or not self.decides_at(None, step):
            return False
        # Sorted as trials complete, so the median costs nothing per report.
        others = board.completed_at(step)
        n = len(others)
        if n < self.n_min_trials:
            return False
        median = others[n // 2] if n % 2 else 0.5 * (others[n // 2 - 1] + others[n // 2])
        return board.best(tid) > median
