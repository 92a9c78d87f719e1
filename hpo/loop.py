"""The one search loop behind every ``fmin`` call, whatever evaluates the trials.

Ask the algorithm for as many configurations as the executor has room for → insert them into
the record → let the executor make progress → take the trials that finished, in the order
they finished → for each: journal it, check its error, update the progress bar, check the stop
conditions → again. Executors (:mod:`hpo.executors`) differ only in where a trial is
evaluated; this loop is the only place that decides when a search stops.

>>> from hpo import Trials, hp, rand
>>> from hpo.base import Domain
>>> from hpo.executors import InProcessExecutor
>>> import numpy as np
>>> trials = Trials()
>>> loop = SearchLoop(trials, Domain(abs, hp.uniform("x", -1, 1)), rand.suggest,
...                   InProcessExecutor(), np.random.default_rng(0), max_evals=4)
>>> _ = loop.run(); len(trials), loop.stop_reason
(4, None)
"""

from __future__ import annotations

import logging
import sys
import time
import warnings

from . import progress
from .base import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    STATUS_OK,
    STATUS_PRUNED,
    insert_points,
)
from .exceptions import InvalidFminArgument
from .pruners.budgets import promotion_docs
from .reports import BUDGET, INTERMEDIATE

logger = logging.getLogger(__name__)


class FinishedTrialsView:
    """What ``early_stop_fn`` receives: the trials, with the finished ones in finishing order.

    ``view.trials`` (and iteration, ``len``, indexing, ``results``, ``losses()``,
    ``statuses()``, ``tids``) cover the trials that had finished when the stop check ran, in
    the order they finished, so ``view.trials[-1]`` is the trial that just finished — with one
    worker or twenty, queued or not. Every other attribute is the record's own
    (``best_trial``, ``argmin``, ``history``, ``attachments``, ...).
    """

    def __init__(self, record, n_finished):
        self._record, self._n = record, n_finished

    def __getattr__(self, name):
        return getattr(self._record, name)

    @property
    def trials(self):
        return _FinishedSequence(self._record, self._n)

    def __iter__(self):
        return iter(self.trials)

    def __len__(self):
        return self._n

    def __getitem__(self, item):
        return self.trials[item]

    @property
    def tids(self):
        return [int(t) for t in self._record.history.tids[: self._n]]

    @property
    def results(self):
        return [t["result"] for t in self.trials]

    def losses(self, bandit=None):
        return [r.get("loss") for r in self.results]

    def statuses(self, bandit=None):
        return [r.get("status") for r in self.results]


class _FinishedSequence:
    """The first ``n`` finished trial documents of a record, in finishing order, without a copy."""

    def __init__(self, record, n):
        self._record, self._n = record, n

    def __len__(self):
        return self._n

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self[i] for i in range(*item.indices(self._n))]
        if item < 0:
            item += self._n
        if not 0 <= item < self._n:
            raise IndexError("finished trial index out of range")
        return self._record.trial_by_tid(int(self._record.history.tids[item]))

    def __iter__(self):
        return (self[i] for i in range(self._n))


def _stop_and_args(early_stop_fn, returned):
    """``early_stop_fn``'s ``(stop, args)``, or an error naming what it returned instead.

    >>> _stop_and_args(print, (False, [1.0, 0]))
    (False, [1.0, 0])
    >>> _stop_and_args(print, True)
    Traceback (most recent call last):
    ...
    hpo.exceptions.InvalidFminArgument: early_stop_fn=<built-in function print> returned True; expected a pair (stop, args) such as (False, [best_loss, count]): stop a bool, args a list passed back to it on the next call
    """
    if isinstance(returned, (tuple, list)) and len(returned) == 2:
        if returned[1] is None:
            return returned[0], []
        if isinstance(returned[1], (tuple, list)):
            return returned[0], list(returned[1])
    raise InvalidFminArgument(
        f"early_stop_fn={early_stop_fn!r} returned {returned!r}; expected a pair (stop, args) "
        f"such as (False, [best_loss, count]): stop a bool, args a list passed back to it on "
        f"the next call"
    )


class SearchLoop:
    """One search: ``run()`` it once.

    ``journal``: an object with ``record(doc)`` called for every inserted and every finished
    trial (the ``trials_save_file``), or None. ``stop_reason`` tells afterwards why the
    search stopped before ``max_evals`` (None when it ran to the end).
    """

    def __init__(self, trials, domain, algo, executor, rstate, max_evals=None, timeout=None,
                 loss_threshold=None, early_stop_fn=None, progress_callback=None, journal=None,
                 points_to_evaluate=None, pruner=None):
        self.trials, self.domain, self.algo = trials, domain, algo
        self.executor, self.rstate = executor, rstate
        self.max_evals = sys.maxsize if max_evals is None else int(max_evals)
        self.timeout, self.loss_threshold = timeout, loss_threshold
        self.early_stop_fn, self.early_stop_args = early_stop_fn, []
        self.progress_callback = progress_callback or progress.no_progress_callback
        self.journal = journal
        self.points_to_evaluate = points_to_evaluate
        self.pruner = pruner
        self.n_pruned = 0
        self._warned_no_reports = False
        self.exhausted = False
        self.stop_reason = None
        self._started = None

    # -- asking -----------------------------------------------------------------------------------

    def _ask(self):
        """Queue as many new trials as the executor has room for and ``max_evals`` allows."""
        if self.exhausted:
            return
        n = min(self.executor.room(self.trials), self.max_evals - self.trials.n_evaluated)
        if n <= 0:
            return
        trials = self.trials
        promoted = [] if self.pruner is None else promotion_docs(self.pruner, trials, n)
        docs = []
        if len(promoted) < n:
            docs = self.algo(trials.new_trial_ids(n - len(promoted)), self.domain, trials,
                             int(self.rstate.integers(2**31 - 1)))
            if not docs and not promoted:
                logger.info("the algorithm has no more configurations to suggest")
                self.exhausted = True
                return
            if self.pruner is not None:
                for doc in docs:
                    doc["misc"].update(self.pruner.new_trial_misc(doc["tid"]))
        docs = promoted + list(docs)
        trials.insert_trial_docs(docs)
        trials.refresh()
        if self.journal is not None:
            for doc in docs:
                self.journal.record(doc)

    def _insert_points(self):
        """``points_to_evaluate``: the user's configurations go first (after the executor has
        started, so that store-backed trials carry the stored domain's hash)."""
        if not self.points_to_evaluate:
            return
        trials = self.trials
        n_before = len(trials.all_trials)
        insert_points(trials, self.domain, self.points_to_evaluate)
        trials.refresh()
        if self.journal is not None:
            for doc in trials.all_trials[n_before:]:
                self.journal.record(doc)

    def _done(self):
        trials = self.trials
        return not trials.unfinished_trials and (self.exhausted or trials.n_evaluated >= self.max_evals)

    # -- finished trials ----------------------------------------------------------------------------

    def _finished(self, doc, n_finished, bar):
        """Everything that happens once per finished trial; returns a reason to stop, or None."""
        if self.journal is not None:
            self.journal.record(doc)
        if doc["state"] == JOB_STATE_ERROR:
            self.executor.raise_for(doc)
        bar.update(1)
        history = self.trials.history
        result = doc.get("result") or {}
        pruned = result.get("status") == STATUS_PRUNED
        self.n_pruned += pruned
        if self.pruner is not None:
            self._warn_without_reports(doc, result)
        if pruned or (history.n_ok and history.best_tid == doc["tid"]):
            best = f"{history.best_loss:.6g}" if history.n_ok else "?"
            bar.postfix = f"best loss: {best}" + (f", pruned: {self.n_pruned}"
                                                    if self.n_pruned else "")
        if self.loss_threshold is not None and history.best_loss <= self.loss_threshold:
            return f"best loss {history.best_loss:.6g} reached loss_threshold"
        if self.early_stop_fn is not None:
            view = FinishedTrialsView(self.trials, n_finished)
            stop, self.early_stop_args = _stop_and_args(
                self.early_stop_fn, self.early_stop_fn(view, *self.early_stop_args))
            if stop:
                return "early_stop_fn asked to stop"
        return None

    def _warn_without_reports(self, doc, result):
        """Warn once when a trial ran to its end without giving the pruner anything to judge."""
        if (self._warned_no_reports or doc["state"] != JOB_STATE_DONE
                or result.get("status") != STATUS_OK
                or result.get(INTERMEDIATE) or result.get(BUDGET) is not None):
            return
        self._warned_no_reports = True
        warnings.warn(
            f"pruner={self.pruner!r} was given, but trial {doc['tid']} finished without calling "
            f"hpo.report(step, loss) (or ctrl.report) or hpo.trial_budget(), so the pruner "
            f"cannot stop any trial; report intermediate losses from the objective, or drop "
            f"the pruner (this warning is shown once)",
            stacklevel=5)  # at the fmin call: fmin -> run -> _finished -> here

    def _timed_out(self):
        return self.timeout is not None and time.monotonic() - self._started >= self.timeout

    # -- the loop -------------------------------------------------------------------------------------

    def run(self):
        trials = self.trials
        self._started = time.monotonic()
        total = None if self.max_evals == sys.maxsize else self.max_evals
        self.executor.start(trials, self.domain)
        try:
            self._insert_points()
            seen = len(trials.history)
            with self.progress_callback(initial=seen, total=total) as bar:
                while self.stop_reason is None:
                    self._ask()
                    if self._done():
                        break
                    self.executor.step(trials)
                    # Every trial folded into the history since the last look, whichever read
                    # of the record brought it in, is handled once, in finishing order.
                    while self.stop_reason is None and seen < len(trials.history):
                        seen += 1
                        doc = trials.trial_by_tid(int(trials.history.tids[seen - 1]))
                        self.stop_reason = self._finished(doc, seen, bar)
                    if self.stop_reason is None and self._timed_out():
                        self.stop_reason = f"timeout of {self.timeout:g} s reached"
        except BaseException:
            # KeyboardInterrupt, an objective's error or a store failure: close what was
            # started, leave nothing queued behind, then let the error through.
            self._close(stopped_early=True, raising=True)
            raise
        if self.stop_reason is not None:
            logger.info("stopping: %s", self.stop_reason)
        self._close(stopped_early=self.stop_reason is not None, raising=False)
        return trials

    def _close(self, stopped_early, raising):
        try:
            self.executor.close(self.trials, stopped_early)
        except Exception as e:
            if not raising:
                raise
            logger.error("while stopping after an error: %s: %s", type(e).__name__, e)
        finally:
            if self.journal is not None:
                self._close_journal(raising)

    def _close_journal(self, raising):
        try:
            self.journal.close(self.trials)
        except Exception as e:
            if not raising:
                raise
            # The error that stopped the search matters more; every trial was journaled already.
            logger.error("could not compact trials_save_file: %s: %s", type(e).__name__, e)

