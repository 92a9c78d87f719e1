"""What an objective calls while it runs: ``hpo.report(step, loss)`` and ``hpo.trial_budget()``.

While ``fmin`` evaluates a trial -- in this process or in an ``hpo-worker`` -- the trial is
the *active* one of the thread that runs the objective. ``report`` records an intermediate
loss in the trial's document (``result["intermediate"]``, a list of ``[step, loss]``) and
asks the search's pruner whether the trial should stop; ``trial_budget`` returns the resource
(epochs, a fraction of the data, ...) the pruner granted the trial. Outside ``fmin`` there is
no active trial: ``report`` checks its arguments and returns False, ``trial_budget`` returns
its default, so an objective can be called and tested alone.

>>> report(1, 0.5)
False
>>> trial_budget(default=10)
10
"""

from __future__ import annotations

import contextlib
import contextvars
import logging

from .exceptions import InvalidReport
from .reports import BUDGET, INTERMEDIATE, check_report

logger = logging.getLogger(__name__)

_active = contextvars.ContextVar("hpo_active_trial", default=None)


class TrialReporter:
    """The reports of one running trial and the pruner that judges them.

    ``ctrl`` (a :class:`hpo.base.Ctrl`, or None) gives the trial's document, the record whose
    :class:`~hpo.reports.ReportBoard` holds every trial's reports, and where to write
    (``ctrl.save_reports``) and re-read (``ctrl.sync_reports``) them.
    """

    def __init__(self, ctrl=None, pruner=None):
        self.ctrl, self.pruner = ctrl, pruner
        self.doc = None if ctrl is None else ctrl.current_trial
        self.intermediate = []
        self.budget_read = None

    @property
    def _board(self):
        trials = None if self.ctrl is None else self.ctrl.trials
        return getattr(trials, "reports", None)

    def report(self, step, loss):
        """Record ``loss`` at ``step``; True when the pruner says the trial should stop."""
        previous = self.intermediate[-1][0] if self.intermediate else None
        step, loss = check_report(step, loss, previous)
        self.intermediate.append([step, loss])
        if self.doc is None:
            return False
        self.ctrl.save_reports(self.intermediate)
        board, tid = self._board, self.doc["tid"]
        if board is not None:
            board.observe_own(tid, step, loss, self.doc.get("attempt"))
        if self.pruner is None or board is None or not self.pruner.decides_at(previous, step):
            return False
        # The decision reads the other trials' latest reports (from the store, if any).
        self.ctrl.sync_reports()
        return bool(self.pruner.should_prune(board, tid, step))

    def budget(self, default=None):
        """The resource granted to this trial (see :func:`trial_budget`)."""
        misc = {} if self.doc is None else (self.doc.get("misc") or {})
        value = misc.get("budget")
        if value is None and self.pruner is not None and self.doc is not None:
            value = self.pruner.initial_budget(self.doc["tid"])
        if value is None:
            return default
        self.budget_read = value
        return value

    def finish(self, result):
        """The objective's validated ``result`` with what was reported (a new dict)."""
        if not self.intermediate and self.budget_read is None:
            return result
        result = dict(result)
        if self.intermediate:
            if INTERMEDIATE in result and result[INTERMEDIATE] != self.intermediate:
                logger.warning("trial %s: the objective's result has its own %r; it is "
                               "replaced by the values given to report()",
                               None if self.doc is None else self.doc["tid"], INTERMEDIATE)
            result[INTERMEDIATE] = [list(pair) for pair in self.intermediate]
            if result.get("status") == "pruned" and result.get("loss") is None:
                result["loss"] = self.intermediate[-1][1]
        if self.budget_read is not None:
            result[BUDGET] = self.budget_read
        return result


@contextlib.contextmanager
def active_trial(ctrl=None, pruner=None):
    """Make a new :class:`TrialReporter` the active trial of this thread while the block runs.

    >>> with active_trial() as reporter:
    ...     report(0, 1.0), report(1, 0.5)
    (False, False)
    >>> reporter.intermediate
    [[0, 1.0], [1, 0.5]]
    """
    reporter = TrialReporter(ctrl, pruner)
    if ctrl is not None:
        ctrl.reporter = reporter
    token = _active.set(reporter)
    try:
        yield reporter
    finally:
        _active.reset(token)
        if ctrl is not None:
            ctrl.reporter = None


def report(step, loss):
    """Record an intermediate ``loss`` of the running trial at ``step``; True means "stop".

    ``step`` is an int >= 0 that increases from one call to the next (an epoch, an iteration,
    a number of samples seen); ``loss`` a finite number, lower is better. The value goes to the
    trial document's ``result["intermediate"]`` (a list of ``[step, loss]``), where the pruner
    given to ``fmin(..., pruner=...)`` reads it, in this process or in other workers. When the
    call returns True, end the trial with ``raise hpo.TrialPruned()``: it is recorded with
    status ``"pruned"`` and this last loss. Outside ``fmin`` (or in a thread the objective
    started) the arguments are checked and False is returned.

    >>> import hpo
    >>> def objective(lr):
    ...     loss = 1.0
    ...     for epoch in range(20):
    ...         loss *= 1 - lr
    ...         if hpo.report(epoch, loss):
    ...             raise hpo.TrialPruned()
    ...     return loss
    >>> round(objective(0.1), 3)
    0.122
    >>> report(-1, 0.5)
    Traceback (most recent call last):
    ...
    hpo.exceptions.InvalidReport: report(step=-1, loss=0.5): step must be an int >= 0 (an epoch or iteration number), got -1 of type int
    """
    reporter = _active.get()
    if reporter is None:
        check_report(step, loss)
        return False
    return reporter.report(step, loss)


def trial_budget(default=None):
    """The resource the pruner's rung grants the running trial (epochs, a data fraction, ...).

    For objectives that cannot report per step: with ``fmin(...,
    pruner=SuccessiveHalvingPruner(min_resource=1, max_resource=27, reduction_factor=3))``
    every new configuration gets ``min_resource``; a configuration in the best
    ``1/reduction_factor`` of the trials run at one budget is run again, as a new trial, at the
    next (``reduction_factor`` times larger), up to ``max_resource``. The objective trains for
    that budget and returns its loss (see ``docs/pruning.md``). Returns ``default`` outside
    ``fmin``, or when the search's pruner grants no budget (``MedianPruner``, no pruner).

    >>> def objective(params):
    ...     epochs = trial_budget(default=27)
    ...     return 1.0 / epochs
    >>> objective({})
    0.037037037037037035
    """
    reporter = _active.get()
    if reporter is None:
        return default
    return reporter.budget(default)


__all__ = ["InvalidReport", "TrialReporter", "active_trial", "report", "trial_budget"]
