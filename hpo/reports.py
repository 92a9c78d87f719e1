"""Intermediate reports of trials, and the incremental index pruners decide from.

A trial's reports live in its document at ``result["intermediate"]``: a list of
``[step, loss]`` pairs with increasing integer steps. While the trial runs they are written to
the running document (so that other processes see them); when it finishes they stay in its
result. A pruned trial's ``result["loss"]`` is its last reported loss.

:class:`ReportBoard` follows the reports of every trial of a record as documents change: each
new report is folded in once, so a pruner's question ("the losses at step 8", "the trials that
reached resource 9") costs a dictionary lookup, never a pass over all trials' documents.

>>> board = ReportBoard()
>>> board.add(0, 1, 0.9); board.add(0, 3, 0.5); board.add(1, 2, 0.7)
>>> board.at_step(1), board.reached(2)
({0: 0.9}, {0: 0.5, 1: 0.7})
>>> board.finish(0, "ok"); board.n_completed
1
"""

from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

from .exceptions import InvalidReport

#: Where a trial document keeps its reports.
INTERMEDIATE = "intermediate"
#: Where a trial document that read its budget (``hpo.trial_budget()``) says so.
BUDGET = "budget"


def observation_fidelity(result, pruned):
    """How much of its resource a finished trial used, for ranking it among the others:
    a pruned trial's last reported step, a budget-driven trial's budget, None for a trial
    that ran to its end.

    >>> observation_fidelity({"status": "pruned", "intermediate": [[1, 0.5], [3, 0.4]]}, True)
    3
    >>> observation_fidelity({"status": "ok", "budget": 9}, False)
    9
    >>> print(observation_fidelity({"status": "ok", "intermediate": [[1, 0.5]]}, False))
    None
    """
    if pruned:
        intermediate = result.get(INTERMEDIATE) or []
        return intermediate[-1][0] if intermediate else 0
    return result.get(BUDGET)


def check_report(step, loss, previous_step=None):
    """``(int step, float loss)``, or :class:`InvalidReport` naming the bad argument.

    Steps are integers >= 0 that increase from one report to the next; losses are finite
    real numbers (a diverged trial should raise ``hpo.TrialPruned`` or return
    ``{"status": "fail"}`` instead of reporting ``nan``).

    >>> check_report(3, 0.5)
    (3, 0.5)
    >>> check_report(2.5, 0.5)
    Traceback (most recent call last):
    ...
    hpo.exceptions.InvalidReport: report(step=2.5, loss=0.5): step must be an int >= 0 (an epoch or iteration number), got 2.5 of type float
    >>> check_report(2, 0.5, previous_step=4)
    Traceback (most recent call last):
    ...
    hpo.exceptions.InvalidReport: report(step=2, loss=0.5): step must increase from one report to the next; the previous report was at step 4
    """
    if type(step) is int and type(loss) is float and step >= 0 and math.isfinite(loss) and (
            previous_step is None or step > previous_step):
        return step, loss  # the common case, checked without the costlier tests below
    call = f"report(step={step!r}, loss={loss!r})"
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (numbers.Integral, np.integer)) \
            or step < 0:
        raise InvalidReport(
            f"{call}: step must be an int >= 0 (an epoch or iteration number), got {step!r} of "
            f"type {type(step).__name__}")
    if isinstance(loss, (bool, np.bool_)) or not isinstance(loss, (numbers.Real, np.number)):
        raise InvalidReport(
            f"{call}: loss must be a real number, got {loss!r} of type {type(loss).__name__}")
    loss = float(loss)
    if not math.isfinite(loss):
        raise InvalidReport(
            f"{call}: loss must be finite, got {loss!r}; for a diverged trial raise "
            f"hpo.TrialPruned() or return {{'status': 'fail'}}")
    step = int(step)
    if previous_step is not None and step <= previous_step:
        raise InvalidReport(
            f"{call}: step must increase from one report to the next; the previous report was "
            f"at step {previous_step}")
    return step, loss


def _folded(name, doc):
    """A read-only attribute of :class:`ReportBoard` that folds pending documents in first."""

    def get(board):
        board._fold()
        return getattr(board, name)

    return property(get, doc=doc)


class ReportBoard:
    """The reports of all trials of one record, indexed for pruners; updated incrementally.

    Fed by :meth:`add` (a report of a trial running in this process) and :meth:`observe` (a
    trial document read from memory or a store: only reports not seen yet are folded in).
    Also remembers what budget-driven searches need: the budget each trial ran with, whether
    it read it, and which trials were re-run at a larger budget (``misc["promoted_from"]``).

    Documents of finished trials are folded in lazily, in the order they came, on the first
    question or report after them: a record read only to be looked at (a dashboard,
    ``hpo ls``) never pays for an index no pruner asks.
    """

    def __init__(self):
        self._reports = {}        # tid -> [(step, loss), ...]
        self._attempt = {}        # tid -> the attempt its reports belong to
        self._status = {}         # tid -> "running", or the finished result's status
        self._at_step = {}        # step -> {tid: loss}
        self._best = {}           # tid -> its lowest reported loss
        self._completed_at = {}   # step -> sorted losses of trials that completed (status ok)
        self._events = []         # ("add", tid, previous step, step, loss) / ("reset", tid)
        self._reached = {}        # resource -> [events read, {tid: loss}]
        self._n_completed = 0      # finished with status ok
        self._budget = {}          # tid -> the budget in its misc
        self._bracket = {}         # tid -> the bracket in its misc
        self._budget_results = {}  # budget -> {tid: loss}, finished ok trials that read it
        self._promoted = set()     # tids whose configuration was re-run at a larger budget
        self._n_reporting = 0      # trials with at least one report
        self._pending = []         # documents observed and not folded in yet, in order

    def _fold(self):
        """Fold in the documents observed since the last question."""
        while self._pending:
            pending, self._pending = self._pending, []
            for doc in pending:
                self._fold_doc(doc)

    n_completed = _folded("_n_completed", "How many trials finished with status ok.")
    budget = _folded("_budget", "``{tid: budget}`` from the trials' ``misc``.")
    bracket = _folded("_bracket", "``{tid: bracket}`` from the trials' ``misc``.")
    budget_results = _folded("_budget_results", "``{budget: {tid: loss}}`` of the trials that "
                             "finished ok after reading their budget.")
    promoted = _folded("_promoted", "The tids whose configuration was re-run at a larger budget.")
    n_reporting = _folded("_n_reporting", "How many trials reported at least once.")

    # -- feeding ------------------------------------------------------------------------------

    def add(self, tid, step, loss):
        """One new report of trial ``tid`` (already checked by :func:`check_report`)."""
        self._fold()
        self._add(tid, step, loss)

    def _add(self, tid, step, loss):
        reports = self._reports.setdefault(tid, [])
        if not reports:
            self._n_reporting += 1
        previous = reports[-1][0] if reports else None
        reports.append((step, loss))
        self._best[tid] = min(loss, self._best.get(tid, loss))
        self._at_step.setdefault(step, {})[tid] = loss
        self._events.append(("add", tid, previous, step, loss))
        self._status.setdefault(tid, "running")

    def observe_own(self, tid, step, loss, attempt=None):
        """A report of a trial running in this process (``attempt``: its reservation)."""
        self._fold()
        if attempt != self._attempt.get(tid, attempt):
            self._reset(tid)
        self._attempt[tid] = attempt
        self._add(tid, step, loss)

    def _reset(self, tid):
        """Forget the reports of ``tid`` (its trial was started again by another attempt)."""
        reports = self._reports.pop(tid, [])
        self._best.pop(tid, None)
        self._n_reporting -= bool(reports)
        for step, _ in reports:
            self._at_step.get(step, {}).pop(tid, None)
        self._events.append(("reset", tid))

    def observe(self, doc):
        """Fold in what ``doc`` (a trial document) says that was not seen yet: at once for an
        unfinished trial (its document changes as it reports), before the next question for a
        finished one."""
        self._pending.append(doc)
        if doc.get("state") not in (2, 3):  # DONE, ERROR: hpo.base's job states
            self._fold()

    def _fold_doc(self, doc):
        tid = doc["tid"]
        misc = doc.get("misc") or {}
        if misc.get("budget") is not None:
            self._budget[tid] = misc["budget"]
        if misc.get("bracket") is not None:
            self._bracket[tid] = misc["bracket"]
        if misc.get("promoted_from") is not None:
            self._promoted.add(misc["promoted_from"])
        result = doc.get("result") or {}
        intermediate = result.get(INTERMEDIATE) or []
        attempt = doc.get("attempt")
        known = self._reports.get(tid, [])
        if attempt != self._attempt.get(tid, attempt) or len(intermediate) < len(known):
            self._reset(tid)
            known = []
        self._attempt[tid] = attempt
        for step, loss in intermediate[len(known):]:
            self._add(tid, int(step), float(loss))
        if doc.get("state") in (2, 3):  # DONE, ERROR: hpo.base's job states
            self._finish(tid, result.get("status") if doc["state"] == 2 else "fail",
                        result.get("loss"), result.get(BUDGET))

    def finish(self, tid, status, loss=None, budget=None):
        """Trial ``tid`` finished with ``status``; ``budget`` when it read its budget."""
        self._fold()
        self._finish(tid, status, loss, budget)

    def _finish(self, tid, status, loss=None, budget=None):
        if self._status.get(tid) not in (None, "running"):
            return
        self._status[tid] = status
        if status == "ok":
            self._n_completed += 1
            for step, value in self._reports.get(tid, ()):
                bisect.insort(self._completed_at.setdefault(step, []), value)
            if budget is not None and loss is not None:
                self._budget_results.setdefault(budget, {})[tid] = float(loss)

    # -- reading ------------------------------------------------------------------------------

    def reports(self, tid):
        """The ``(step, loss)`` reports of ``tid`` so far."""
        self._fold()
        return list(self._reports.get(tid, ()))

    def best(self, tid):
        """The lowest loss ``tid`` reported so far (None before its first report)."""
        self._fold()
        return self._best.get(tid)

    def previous_step(self, tid):
        """The step of the report before ``tid``'s last one (None when it has fewer than two)."""
        self._fold()
        reports = self._reports.get(tid, ())
        return reports[-2][0] if len(reports) >= 2 else None

    def completed_at(self, step):
        """The sorted losses at ``step`` of the trials that completed with status ok."""
        self._fold()
        return self._completed_at.get(step, [])

    def status(self, tid):
        """``"running"``, the status its result finished with, or None when unknown."""
        self._fold()
        return self._status.get(tid)

    def at_step(self, step):
        """``{tid: loss}`` of the trials that reported exactly at ``step``."""
        self._fold()
        return self._at_step.get(step, {})

    def reached(self, resource):
        """``{tid: loss}``: each trial that reported at a step >= ``resource``, with the loss of
        its first such report (the value a successive-halving rung at ``resource`` records).

        Maintained incrementally: each call reads only the reports added since the last one.
        """
        self._fold()
        entry = self._reached.setdefault(resource, [0, {}])
        seen, table = entry
        for event in self._events[seen:]:
            if event[0] == "reset":
                table.pop(event[1], None)
                continue
            _, tid, previous, step, loss = event
            if step >= resource and (previous is None or previous < resource):
                table[tid] = loss
        entry[0] = len(self._events)
        return table
