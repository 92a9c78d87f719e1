"""Trials queued in a job store and evaluated by ``hpo-worker`` processes.

The executor stores the domain once, keeps the queue of NEW trials as long as the number of
live workers (or ``max_queue_len``), and on every :meth:`~StoreExecutor.step` waits a little
and reads the store incrementally. It requeues trials whose worker stopped sending heartbeats,
so a killed worker never hangs the search, and says which command to run when no worker shows
up. With ``n_workers=N`` it starts N local workers for the duration of the search.

>>> import os, tempfile
>>> from hpo import fmin, hp, rand
>>> from hpo.stores import StoreTrials
>>> trials = StoreTrials("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db"), exp_key="e")
>>> best = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
...             trials=trials, n_workers=1, show_progressbar=False)
>>> trials.count_by_state_unsynced(2)
3
"""

from __future__ import annotations

import logging
import shlex
import time

import numpy as np

from ..base import JOB_STATE_NEW, JOB_STATE_RUNNING
from ..exceptions import InvalidFminArgument
from ..stores.base import Backoff, WorkerTrialError
from ..stores.domain import store_domain
from .base import Executor

logger = logging.getLogger(__name__)

#: A worker that has not refreshed its registration for this long is not counted as live.
WORKER_TTL = 30.0
#: Errors that workers record for trials they did not run to the end (not objective errors).
NON_OBJECTIVE_ERRORS = ("WorkerLost", "PayloadVerificationError")


class StoreExecutor(Executor):
    """Evaluates a store-backed search's trials through workers.

    ``n_workers``: local worker processes to start (None or 0: rely on workers started by
    hand); ``max_queue_len`` above 1 fixes the number of queued trials, at 1 the queue follows
    the number of live workers (plus a quarter of it); ``poll_interval``: the longest wait between two reads of the
    store; ``no_worker_warning_after``: seconds without any worker before a warning says what
    to run.
    """

    def __init__(self, n_workers=None, catch_eval_exceptions=False, max_queue_len=1,
                 poll_interval=0.2, worker_heartbeat=None, no_worker_warning_after=10.0):
        if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                      or n_workers < 0):
            raise InvalidFminArgument(f"n_workers must be an int >= 0 or None, got {n_workers!r}")
        self.n_workers = n_workers or 0
        self.catch_eval_exceptions = catch_eval_exceptions
        self.max_queue_len = max_queue_len
        self.poll_interval = float(poll_interval)
        self.poll = Backoff(0.005, poll_interval)
        self._durations = []  # of the last finished trials, seconds
        self.worker_heartbeat = worker_heartbeat
        self.no_worker_warning_after = no_worker_warning_after
        self.workers = None
        self.live_workers = 0
        self._clocks = {}
        self._started_at = None
        self._warned_no_worker = False
        self._finished_at_start = 0

    # -- start and stop ---------------------------------------------------------------------------

    def start(self, trials, domain):
        store = trials.store
        trials.domain_sha256 = store_domain(store, trials.exp_key, domain, trials.secret)
        trials.refresh()
        if self.n_workers:
            self.workers = self._local_workers(trials)
            self.workers.start()
        self._finished_at_start = len(trials.history)
        now = time.monotonic()
        self._started_at = now
        self._clocks = {"requeue": now, "workers": now, "sweep": now + 10.0}

    def _local_workers(self, trials):
        from ..worker.pool import LocalWorkers  # the worker machinery loads only when used

        if trials.store.url.scheme == "memory":
            raise InvalidFminArgument(
                f"n_workers={self.n_workers} needs a store that worker processes can open; "
                f"a memory:// store lives in this process only (use sqlite:///exp.db)"
            )
        heartbeat = self.worker_heartbeat or max(0.5, min(5.0, trials.stale_after / 6))
        return LocalWorkers(trials.url if trials.url is not None else trials.store.url,
                            trials.exp_key, self.n_workers, secret=trials.secret,
                            heartbeat=heartbeat,
                            catch_eval_exceptions=self.catch_eval_exceptions)

    def close(self, trials, stopped_early):
        errors = []
        if self.workers is not None:
            try:
                self.workers.stop()
            except Exception as e:  # still cancel the queue below, then report
                errors.append(e)
            self.workers = None
        if stopped_early:
            try:
                self._cancel_queued(trials)
            except Exception as e:
                logger.error("could not cancel queued trials: %s: %s", type(e).__name__, e)
                errors.append(e)
        if errors:
            raise errors[0]

    @staticmethod
    def _cancel_queued(trials):
        """Cancel the experiment's NEW trials: a search that stopped early will not need them."""
        trials.refresh()
        tids = [d["tid"] for d in trials.unfinished_trials if d["state"] == JOB_STATE_NEW]
        if tids:
            trials.store.cancel_new(trials.exp_key, tids)
            trials.refresh()

    # -- the loop's questions -----------------------------------------------------------------

    def room(self, trials):
        if self.max_queue_len > 1:
            target = self.max_queue_len
        else:
            local = self.workers.n if self.workers is not None else 0
            workers = max(1, self.live_workers, local)
            # A few trials beyond one per worker: a worker that finishes between two reads of
            # the store then finds one waiting instead of idling until the next read. Kept small,
            # because a queued trial is suggested without the results still to come.
            target = workers + workers // 4
        return max(0, target - len(trials.queued))

    def step(self, trials):
        n_before = len(trials.history)
        self._maintenance(trials)
        changed = trials.refresh()
        if time.monotonic() >= self._clocks["sweep"]:
            # A safety net under the incremental reads; what it finds is folded into the
            # record like any other change, so the loop sees it the same way.
            changed = trials.sweep_unfinished() or changed
            self._clocks["sweep"] = time.monotonic() + 10.0
        if changed:
            # Poll sooner after activity; the interval settles near the pace at which trials
            # change instead of staying at the shortest one.
            self.poll.shrink()
        if len(trials.history) > n_before:
            self._learn_pace(trials, n_before)
        else:
            time.sleep(self.poll.next())

    def _learn_pace(self, trials, n_before):
        """Poll at least four times per typical trial, so that short trials do not wait for
        the next read of the store longer than they ran (workers finishing together would
        otherwise idle until then)."""
        for tid in trials.history.tids[n_before:]:
            doc = trials.trial_by_tid(int(tid))
            if doc.get("book_time") is not None and doc.get("refresh_time") is not None:
                seconds = (doc["refresh_time"] - doc["book_time"]).total_seconds()
                self._durations = (self._durations + [max(0.0, seconds)])[-20:]
        if self._durations:
            typical = float(np.median(self._durations))
            self.poll.maximum = min(self.poll_interval, max(self.poll.start, typical / 4))
            self.poll.current = min(self.poll.current, self.poll.maximum)

    def raise_for(self, doc):
        error = doc["misc"].get("error") or ["?", "?"]
        logger.warning("trial %s failed in a worker: %s: %s", doc["tid"], error[0], error[1])
        if self.catch_eval_exceptions or error[0] in NON_OBJECTIVE_ERRORS:
            return
        raise WorkerTrialError(
            f"trial {doc['tid']} raised in worker {doc.get('owner')}: {error[0]}: {error[1]}\n"
            f"--- worker traceback ---\n{doc['misc'].get('traceback', '')}"
            f"(pass catch_eval_exceptions=True to record failed trials and go on)"
        )

    # -- upkeep ---------------------------------------------------------------------------------

    def _maintenance(self, trials):
        """Requeue stale trials, count live workers, replace dead local workers."""
        store, now = trials.store, time.monotonic()
        dead = self.workers.reap() if self.workers is not None else []
        if dead or now >= self._clocks["requeue"]:
            requeued, errored = store.requeue_stale(trials.exp_key, trials.stale_after,
                                                    trials.max_attempts, owners=dead)
            if requeued or errored:
                logger.warning("requeued %d stale trials, gave up on %d", requeued, errored)
            self._clocks["requeue"] = now + min(5.0, trials.stale_after / 4)
        if now >= self._clocks["workers"]:
            self.live_workers = len(store.live_workers(trials.exp_key, WORKER_TTL))
            self._clocks["workers"] = now + 2.0
        self._warn_when_no_worker(trials, now)
        if self.workers is not None:
            self.workers.ensure_running()

    def _warn_when_no_worker(self, trials, now):
        if self._warned_no_worker or now - self._started_at < self.no_worker_warning_after:
            return
        busy = any(d["state"] == JOB_STATE_RUNNING for d in trials.unfinished_trials)
        progressed = len(trials.history) > self._finished_at_start
        if self.live_workers or busy or progressed or not trials.queued:
            return
        self._warned_no_worker = True
        command = ["hpo-worker", "--store", trials.store.url.redacted()]
        if trials.exp_key is not None:
            command += ["--exp-key", str(trials.exp_key)]
        logger.warning(
            "no worker has taken a trial of exp_key %r in %.0f s; %d trials are queued in %s. "
            "Start workers with:  %s%s", trials.exp_key, now - self._started_at,
            len(trials.queued), trials.store.url.redacted(), shlex.join(command),
            " (with the password in place of ***)" if trials.store.url.password else "")
