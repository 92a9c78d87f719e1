"""The driver loop: ask the algorithm for configurations, evaluate them, record the results.

>>> from hpo import fmin, hp, rand
>>> import numpy as np
>>> best = fmin(lambda x: (x - 3) ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
...             max_evals=50, rstate=np.random.default_rng(0), show_progressbar=False)
>>> round(best["x"])
3
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback


from . import progress
from .base import (
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    Ctrl,
    Domain,
    Trials,
    insert_points,
    new_misc,
    utcnow,
)
from .exceptions import AllTrialsFailed, InvalidFminArgument
from .options import default_algo, default_rstate, validate_fmin_options
from .spaces import space_eval
from .trials_file import load_trials, save_trials

logger = logging.getLogger(__name__)

def generate_trials_to_calculate(points, exp_key=None):
    """A :class:`Trials` holding one NEW trial per ``{label: value}`` point (choices as indices).

    ``fmin`` evaluates NEW trials before it asks the algorithm for more.

    >>> trials = generate_trials_to_calculate([{"x": 0.0}, {"x": 1.0}])
    >>> [t["misc"]["vals"]["x"] for t in trials]
    [[0.0], [1.0]]
    """
    trials = Trials(exp_key=exp_key)
    tids = trials.new_trial_ids(len(points))
    miscs = [new_misc(tid, {label: [value] for label, value in point.items()})
             for tid, point in zip(tids, points)]
    docs = trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"}] * len(tids), miscs)
    for doc in docs:
        doc["result"] = {"status": "new"}
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def _complete_new_trial(domain, doc):
    """Validate a NEW trial given by the user and fill ``[]`` for its inactive labels."""
    vals = domain.compiled.point_to_vals(doc["misc"]["vals"], what=f"trial {doc['tid']}")
    doc["misc"]["vals"] = vals
    doc["misc"]["idxs"] = {label: ([doc["tid"]] if v else []) for label, v in vals.items()}


class FMinIter:
    """One search run over an in-process :class:`Trials`; :func:`fmin` builds and runs it."""

    def __init__(self, algo, domain, trials, rstate, max_evals, timeout=None,
                 loss_threshold=None, max_queue_len=1, catch_eval_exceptions=False,
                 early_stop_fn=None, trials_save_file="", progress_callback=None):
        self.algo, self.domain, self.trials, self.rstate = algo, domain, trials, rstate
        self.max_evals = max_evals
        self.timeout, self.loss_threshold = timeout, loss_threshold
        self.max_queue_len = max_queue_len
        self.catch_eval_exceptions = catch_eval_exceptions
        self.early_stop_fn, self.early_stop_args = early_stop_fn, []
        self.trials_save_file = trials_save_file
        self.progress_callback = progress_callback or progress.no_progress_callback
        self.start_time = None
        self.exhausted = False

    def _save(self):
        if self.trials_save_file:
            save_trials(self.trials, self.trials_save_file)

    def _evaluate(self, doc):
        doc["state"] = JOB_STATE_RUNNING
        doc["book_time"] = doc["refresh_time"] = utcnow()
        try:
            result = self.domain.evaluate(doc["misc"]["vals"], Ctrl(self.trials, current_trial=doc))
        except Exception as e:
            logger.error("trial %s failed: %s: %s", doc["tid"], type(e).__name__, e)
            doc["state"] = JOB_STATE_ERROR
            doc["misc"]["error"] = (str(type(e)), str(e))
            doc["misc"]["traceback"] = traceback.format_exc()
            doc["refresh_time"] = utcnow()
            self.trials.refresh()
            self._save()
            if not self.catch_eval_exceptions:
                raise
            return
        doc["result"] = result
        doc["state"] = JOB_STATE_DONE
        doc["refresh_time"] = utcnow()
        self.trials.refresh()
        self._save()

    def _should_stop(self):
        history = self.trials.history
        if self.loss_threshold is not None and history.best_loss <= self.loss_threshold:
            logger.info("stopping: best loss %s reached loss_threshold", history.best_loss)
            return True
        if self.timeout is not None and time.monotonic() - self.start_time >= self.timeout:
            logger.info("stopping: timeout of %s s reached", self.timeout)
            return True
        if self.early_stop_fn is not None and len(self.trials):
            stop, self.early_stop_args = self.early_stop_fn(self.trials, *self.early_stop_args)
            if stop:
                logger.info("stopping: early_stop_fn asked to stop")
                return True
        return False

    def _ask(self):
        """Ask the algorithm for as many new trials as the queue and ``max_evals`` allow."""
        n = min(self.max_queue_len, self.max_evals - len(self.trials))
        if n <= 0:
            return []
        new_ids = self.trials.new_trial_ids(n)
        docs = self.algo(new_ids, self.domain, self.trials, int(self.rstate.integers(2**31 - 1)))
        if not docs:
            logger.info("stopping: the algorithm has no more configurations to suggest")
            self.exhausted = True
            return []
        self.trials.insert_trial_docs(docs)
        self.trials.refresh()
        return docs

    def run(self):
        self.start_time = time.monotonic()
        trials = self.trials
        queue = [t for t in trials if t["state"] == JOB_STATE_NEW]
        for doc in queue:
            _complete_new_trial(self.domain, doc)
        finished = len(trials) - len(queue)
        total = None if self.max_evals == sys.maxsize else self.max_evals
        best_shown = None
        with self.progress_callback(initial=finished, total=total) as bar:
            try:
                while True:
                    if not queue:
                        queue = self._ask()
                        if not queue:
                            break
                    doc = queue.pop(0)
                    self._evaluate(doc)
                    if trials.history.best_loss != best_shown:
                        best_shown = trials.history.best_loss
                        bar.postfix = f"best loss: {best_shown:.6g}"
                    bar.update(1)
                    if self._should_stop():
                        break
            except KeyboardInterrupt:
                # Keep every finished trial; the interrupted one never finished, so it goes.
                running = [t["tid"] for t in trials if t["state"] == JOB_STATE_RUNNING]
                trials.forget_unfinished(running)
                self._save()
                logger.warning("interrupted: %d finished trials kept", len(trials))
                raise
        return trials


def _prepare_trials(trials, trials_save_file, domain, points_to_evaluate):
    if trials_save_file and os.path.exists(trials_save_file):
        loaded = load_trials(trials_save_file)
        if trials is not None and type(trials) is type(loaded):
            # Resume into the caller's object, so the `trials` they hold shows the whole search.
            trials.__dict__.update(loaded.__dict__)
        else:
            trials = loaded
    elif trials is None:
        trials = Trials()
    trials.refresh()
    # A trial left RUNNING in memory or in a saved file belongs to a process that is gone.
    for doc in trials:
        if doc["state"] == JOB_STATE_RUNNING:
            doc["state"] = JOB_STATE_NEW
    if points_to_evaluate and len(trials) == 0:
        insert_points(trials, domain, points_to_evaluate)
        trials.refresh()
    return trials


def fmin(fn, space, algo=None, max_evals=None, timeout=None, loss_threshold=None, trials=None,
         rstate=None, allow_trials_fmin=True, pass_expr_memo_ctrl=None,
         catch_eval_exceptions=False, verbose=True, return_argmin=True, points_to_evaluate=None,
         max_queue_len=1, show_progressbar=True, early_stop_fn=None, trials_save_file="",
         n_workers=None):
    """Minimize ``fn`` over ``space`` with ``algo``; Hyperopt 0.3's signature and semantics.

    Parameters
    ----------
    fn : callable
        The objective: takes one configuration (the value of ``space``) and returns a loss or
        a dict with ``loss`` and ``status`` (``STATUS_OK``/``STATUS_FAIL``) and anything else.
    space : hp space, or None to read ``hp`` annotations from ``fn``'s parameters.
    algo : suggest function (``tpe.suggest`` by default, ``rand.suggest``, ``anneal.suggest``,
        ``grid.suggest``, ``functools.partial(tpe.suggest, n_startup_jobs=10)``, ...).
    max_evals : int
        Stop when ``trials`` holds this many trials, *counting those already there*, so the same
        call resumes a search. ``None`` means no limit (use ``timeout`` or ``early_stop_fn``).
    timeout : seconds; stop starting new trials after that long.
    loss_threshold : stop once the best loss is at or below it.
    trials : :class:`Trials` (in memory by default) or a store-backed Trials.
    rstate : ``numpy.random.Generator``; default seeded from ``$HPO_FMIN_SEED`` if set.
    catch_eval_exceptions : record an exception of ``fn`` as an ERROR trial and go on, instead
        of re-raising it (the ERROR trial is recorded either way).
    return_argmin : return ``trials.argmin`` (choices as indices); False returns the best
        configuration itself (``space_eval(space, trials.argmin)``).
    points_to_evaluate : list of ``{label: value}`` (choices as indices) to evaluate first; used
        only when ``trials`` holds no trial yet, so a resumed search does not repeat them.
    max_queue_len : how many configurations to ask the algorithm for at once.
    show_progressbar : True (tqdm bar with the best loss), False, or a callback
        ``(initial, total) -> context manager`` yielding an object with ``update``/``postfix``.
    early_stop_fn : ``fn(trials, *args) -> (stop, args)``, e.g. ``no_progress_loss(20)``.
    trials_save_file : path; the trials are saved there atomically after every trial and
        loaded from there when the file exists, so a killed search resumes where it stopped.
    n_workers : with store-backed trials (``StoreTrials("sqlite:///exp.db")``), start this many
        local worker processes for the duration of the search.

    Ctrl-C stops the search cleanly: finished trials are kept (and saved), the interrupted
    trial is dropped, and ``KeyboardInterrupt`` propagates.
    """
    if algo is None:
        algo = default_algo()
    validate_fmin_options(max_evals, timeout, loss_threshold, rstate, max_queue_len,
                      show_progressbar, early_stop_fn, algo, points_to_evaluate)
    if allow_trials_fmin and trials is not None and type(trials).fmin is not Trials.fmin:
        # Store-backed trials run searches their own way (Hyperopt's `Trials.fmin` hook).
        return trials.fmin(
            fn, space, algo=algo, max_evals=max_evals, timeout=timeout,
            loss_threshold=loss_threshold, rstate=rstate, pass_expr_memo_ctrl=pass_expr_memo_ctrl,
            catch_eval_exceptions=catch_eval_exceptions, verbose=verbose,
            return_argmin=return_argmin, points_to_evaluate=points_to_evaluate,
            max_queue_len=max_queue_len, show_progressbar=show_progressbar,
            early_stop_fn=early_stop_fn, trials_save_file=trials_save_file, n_workers=n_workers,
        )
    if n_workers not in (None, 0, 1):
        raise InvalidFminArgument(
            f"n_workers={n_workers!r} needs store-backed trials, e.g. "
            f"trials=StoreTrials('sqlite:///search.db'); in-memory Trials run in this process"
        )
    domain = Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl)
    trials = _prepare_trials(trials, trials_save_file, domain, points_to_evaluate)
    progress_callback = progress.choose_callback(show_progressbar, verbose)
    FMinIter(
        algo, domain, trials, rstate or default_rstate(),
        max_evals=sys.maxsize if max_evals is None else int(max_evals), timeout=timeout,
        loss_threshold=loss_threshold, max_queue_len=max_queue_len,
        catch_eval_exceptions=catch_eval_exceptions, early_stop_fn=early_stop_fn,
        trials_save_file=trials_save_file, progress_callback=progress_callback,
    ).run()
    return _result(trials, domain, return_argmin)


def _result(trials, domain, return_argmin):
    if len(trials) == 0:
        raise AllTrialsFailed("no trial was run (max_evals reached before the first trial?)")
    argmin = trials.argmin
    return argmin if return_argmin else space_eval(domain.expr, argmin)
