"""Trials evaluated one after the other in this process (in-memory :class:`~hpo.base.Trials`).

>>> from hpo import Trials, fmin, hp, rand
>>> trials = Trials()
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
...          trials=trials, executor=InProcessExecutor(), show_progressbar=False)
>>> [t["state"] for t in trials]
[2, 2, 2]
"""

from __future__ import annotations

import logging
import traceback

from ..base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, Ctrl, utcnow
from .base import Executor

logger = logging.getLogger(__name__)


class InProcessExecutor(Executor):
    """Runs the oldest queued trial on each :meth:`step`.

    ``max_queue_len``: how many configurations the loop asks the algorithm for at once (they
    are then evaluated in order before it asks again).
    """

    def __init__(self, catch_eval_exceptions=False, max_queue_len=1):
        self.catch_eval_exceptions = catch_eval_exceptions
        self.max_queue_len = max_queue_len
        self.domain = None
        self._errors = {}  # tid -> the exception the objective raised

    def start(self, trials, domain):
        self.domain = domain
        # A trial left RUNNING in memory or in a saved file belongs to a process that is gone.
        for doc in trials.unfinished_trials:
            if doc["state"] == JOB_STATE_RUNNING:
                doc["state"] = JOB_STATE_NEW

    @staticmethod
    def _queued(trials):
        return [d for d in trials.unfinished_trials if d["state"] == JOB_STATE_NEW]

    def room(self, trials):
        return 0 if self._queued(trials) else self.max_queue_len

    def step(self, trials):
        queued = self._queued(trials)
        if not queued:
            return
        doc = min(queued, key=lambda d: d["tid"])
        doc["state"] = JOB_STATE_RUNNING
        doc["book_time"] = doc["refresh_time"] = utcnow()
        try:
            result = self.domain.evaluate(doc["misc"]["vals"], Ctrl(trials, current_trial=doc))
        except Exception as e:
            logger.error("trial %s failed: %s: %s", doc["tid"], type(e).__name__, e)
            doc["state"] = JOB_STATE_ERROR
            doc["misc"]["error"] = (str(type(e)), str(e))
            doc["misc"]["traceback"] = traceback.format_exc()
            if not self.catch_eval_exceptions:
                self._errors[doc["tid"]] = e
        else:
            doc["result"] = result
            doc["state"] = JOB_STATE_DONE
        doc["refresh_time"] = utcnow()
        trials.refresh()

    def raise_for(self, doc):
        error = self._errors.pop(doc["tid"], None)
        if error is not None:
            raise error

    def close(self, trials, stopped_early):
        # Only an interruption (Ctrl-C in the objective) leaves a trial RUNNING here: it never
        # finished, so it goes, and a resumed search evaluates its configuration again.
        running = [d["tid"] for d in trials.unfinished_trials if d["state"] == JOB_STATE_RUNNING]
        if running:
            trials.forget_unfinished(running)
            logger.warning("interrupted: trial %s dropped, %d finished trials kept",
                           running[0], trials.n_evaluated)
        self._errors.clear()
