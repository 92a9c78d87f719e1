"""The asynchronous driver: ``fmin`` over store-backed trials evaluated by worker processes.

The driver stores the domain once, keeps ``max_queue_len`` NEW trials queued (by default as
many as there are live workers, at least one), asks the algorithm for that many ids at once,
and follows the store incrementally (only documents that changed since its last look). It
requeues trials whose worker stopped sending heartbeats, so a killed worker never hangs it.

With ``n_workers=N`` it starts N local ``hpo-worker`` processes for the duration of the
search and stops them at the end.

>>> import os, tempfile
>>> from hpo import fmin, hp, rand
>>> from hpo.stores import StoreTrials
>>> trials = StoreTrials("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db"), exp_key="e")
>>> best = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
...             trials=trials, n_workers=1, show_progressbar=False)
>>> sorted(best)
['x']
"""

from __future__ import annotations

import logging
import sys
import time

from .. import progress
from ..base import JOB_STATE_ERROR, JOB_STATE_NEW, Domain, insert_points
from ..exceptions import AllTrialsFailed, InvalidFminArgument
from ..options import default_algo, default_rstate, validate_fmin_options
from ..spaces import space_eval
from .base import Backoff, DomainMismatch, WorkerTrialError
from .local import LocalWorkers
from .payload import DOMAIN_ATTACHMENT, dump_domain, resolve_secret, sign

logger = logging.getLogger(__name__)

#: A worker that has not refreshed its registration for this long is not counted as live.
WORKER_TTL = 30.0
#: Errors that workers record for trials they did not run to the end (not objective errors).
NON_OBJECTIVE_ERRORS = ("WorkerLost",)


def store_domain(trials, domain):
    """Store the domain payload for ``trials``' experiment (once per hash); returns its hash.

    Raises :class:`DomainMismatch` when the experiment already holds trials of a domain whose
    search space differs.
    """
    store, exp_key = trials.store, trials.exp_key
    blob, info = dump_domain(domain, trials.secret)
    record = store.get_experiment(exp_key)
    if record is not None and record.get("space_fingerprint") != info["space_fingerprint"]:
        counts = store.count_by_state(exp_key)
        if sum(counts.values()):
            raise DomainMismatch(
                f"exp_key {exp_key!r} in {store.url.redacted()} already holds "
                f"{sum(counts.values())} trials of a different search space; use a new exp_key "
                f"or delete the old experiment (trials.delete_all())"
            )
    name = f"{DOMAIN_ATTACHMENT}::{info['sha256']}"
    if record is None or record.get("sha256") != info["sha256"] or (
            record.get("hmac") != info["hmac"]):
        secret = resolve_secret(trials.secret)
        signature = (sign(blob, secret) if secret else "-" * 64).encode()
        store.set_attachment(exp_key, name, signature + blob)
        store.set_experiment(exp_key, info)
    trials.domain_sha256 = info["sha256"]
    return info["sha256"]


class AsyncDriver:
    """One search over store-backed trials; :func:`store_fmin` builds and runs it."""

    def __init__(self, trials, domain, algo, rstate, max_evals, timeout=None,
                 loss_threshold=None, max_queue_len=1, catch_eval_exceptions=False,
                 early_stop_fn=None, progress_callback=None, workers=None,
                 poll_interval=0.2):
        self.trials, self.domain, self.algo, self.rstate = trials, domain, algo, rstate
        self.max_evals, self.timeout, self.loss_threshold = max_evals, timeout, loss_threshold
        self.max_queue_len = max_queue_len
        self.catch_eval_exceptions = catch_eval_exceptions
        self.early_stop_fn, self.early_stop_args = early_stop_fn, []
        self.progress_callback = progress_callback or progress.no_progress_callback
        self.workers = workers
        self.poll = Backoff(0.005, poll_interval)
        self.live_workers = 0
        self.exhausted = False
        self.stop_reason = None

    def _queue_target(self):
        if self.max_queue_len > 1:
            return self.max_queue_len
        local = self.workers.n if self.workers is not None else 0
        return max(1, self.live_workers, local)

    def _top_up(self):
        trials = self.trials
        want = min(self._queue_target() - len(trials.queued), self.max_evals - len(trials))
        if want <= 0 or self.exhausted:
            return 0
        new_ids = trials.new_trial_ids(want)
        docs = self.algo(new_ids, self.domain, trials, int(self.rstate.integers(2**31 - 1)))
        if not docs:
            logger.info("the algorithm has no more configurations to suggest")
            self.exhausted = True
            return 0
        trials.insert_trial_docs(docs)
        trials.refresh_local()
        return len(docs)

    def _check_errors(self, finished_docs):
        for doc in finished_docs:
            if doc["state"] != JOB_STATE_ERROR:
                continue
            error = doc["misc"].get("error") or ["?", "?"]
            logger.warning("trial %s failed in a worker: %s: %s", doc["tid"], error[0], error[1])
            if not self.catch_eval_exceptions and error[0] not in NON_OBJECTIVE_ERRORS:
                raise WorkerTrialError(
                    f"trial {doc['tid']} raised in worker {doc.get('owner')}: {error[0]}: "
                    f"{error[1]}\n--- worker traceback ---\n{doc['misc'].get('traceback', '')}"
                    f"(pass catch_eval_exceptions=True to record failed trials and go on)"
                )

    def _should_stop(self, start, n_finished_new):
        history = self.trials.history
        if self.loss_threshold is not None and history.best_loss <= self.loss_threshold:
            return "loss_threshold reached"
        if self.timeout is not None and time.monotonic() - start >= self.timeout:
            return "timeout reached"
        if self.early_stop_fn is not None and n_finished_new and len(self.trials):
            stop, self.early_stop_args = self.early_stop_fn(self.trials, *self.early_stop_args)
            if stop:
                return "early_stop_fn asked to stop"
        return None

    def _maintenance(self, now, clocks):
        """Periodic work: requeue stale trials, count workers, restart dead local workers."""
        trials, store = self.trials, self.trials.store
        dead = self.workers.reap() if self.workers is not None else []
        if dead or now >= clocks["requeue"]:
            requeued, errored = store.requeue_stale(trials.exp_key, trials.stale_after,
                                                    trials.max_attempts, owners=dead)
            if requeued or errored:
                logger.warning("requeued %d stale trials, gave up on %d", requeued, errored)
            clocks["requeue"] = now + min(5.0, trials.stale_after / 4)
        if now >= clocks["workers"]:
            self.live_workers = len(store.live_workers(trials.exp_key, WORKER_TTL))
            clocks["workers"] = now + 2.0
        if now >= clocks["sweep"]:
            trials.sweep_unfinished()
            clocks["sweep"] = now + 10.0
        if self.workers is not None:
            self.workers.ensure_running()

    def run(self):
        trials = self.trials
        start = time.monotonic()
        clocks = {"requeue": 0.0, "workers": 0.0, "sweep": start + 10.0}
        finished_before = len(trials.history)
        total = None if self.max_evals == sys.maxsize else self.max_evals
        best_shown = None
        with self.progress_callback(initial=finished_before, total=total) as bar:
            while True:
                now = time.monotonic()
                self._maintenance(now, clocks)
                n_before = len(trials.history)
                changed = trials.refresh()
                n_new = len(trials.history) - n_before
                if n_new:
                    new_tids = trials.history.tids[n_before:]
                    self._check_errors([trials.trial_by_tid(int(t)) for t in new_tids])
                    if trials.history.best_loss != best_shown and trials.history.n_ok:
                        best_shown = trials.history.best_loss
                        bar.postfix = f"best loss: {best_shown:.6g}"
                    bar.update(n_new)
                self.stop_reason = self._should_stop(start, n_new)
                if self.stop_reason:
                    logger.info("stopping: %s", self.stop_reason)
                    break
                inserted = self._top_up()
                if (len(trials) >= self.max_evals or self.exhausted) and not trials.unfinished_trials:
                    break
                if changed or inserted:
                    # Poll sooner after activity; the interval settles near the pace at which
                    # trials change, instead of polling at the shortest interval every time.
                    self.poll.shrink()
                time.sleep(self.poll.next())
        return trials

    def cancel_queued(self):
        """Cancel this experiment's NEW trials (after a stop before ``max_evals``)."""
        trials = self.trials
        trials.refresh()
        tids = [d["tid"] for d in trials.unfinished_trials if d["state"] == JOB_STATE_NEW]
        if tids:
            trials.store.cancel_new(trials.exp_key, tids)
            trials.refresh()


def store_fmin(trials, fn, space, algo=None, max_evals=None, timeout=None, loss_threshold=None,
               rstate=None, pass_expr_memo_ctrl=None, catch_eval_exceptions=False, verbose=True,
               return_argmin=True, points_to_evaluate=None, max_queue_len=1,
               show_progressbar=True, early_stop_fn=None, trials_save_file="", n_workers=None,
               allow_trials_fmin=True, poll_interval=0.2, worker_heartbeat=None):
    """``fmin`` for store-backed trials (called by :meth:`StoreTrials.fmin`); same arguments.

    ``max_queue_len`` above 1 fixes the number of queued trials; at 1 (the default) the queue
    follows the number of live workers. ``n_workers`` starts that many local workers.
    """
    if algo is None:
        algo = default_algo()
    validate_fmin_options(max_evals, timeout, loss_threshold, rstate, max_queue_len,
                          show_progressbar, early_stop_fn, algo, points_to_evaluate)
    if trials_save_file:
        raise InvalidFminArgument(
            f"trials_save_file={trials_save_file!r} is not used with {type(trials).__name__}: "
            f"the store already keeps every trial; drop the argument"
        )
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                  or n_workers < 0):
        raise InvalidFminArgument(f"n_workers must be an int >= 0 or None, got {n_workers!r}")
    domain = Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl)
    trials.refresh()
    store_domain(trials, domain)
    if points_to_evaluate and not len(trials):
        insert_points(trials, domain, points_to_evaluate)
    progress_callback = progress.choose_callback(show_progressbar, verbose)
    workers = None
    if n_workers:
        heartbeat = worker_heartbeat or max(0.5, min(5.0, trials.stale_after / 6))
        workers = LocalWorkers(trials.store.url, trials.exp_key, n_workers, secret=trials.secret,
                               heartbeat=heartbeat)
    driver = AsyncDriver(
        trials, domain, algo, rstate or default_rstate(),
        max_evals=sys.maxsize if max_evals is None else int(max_evals), timeout=timeout,
        loss_threshold=loss_threshold, max_queue_len=max_queue_len,
        catch_eval_exceptions=catch_eval_exceptions, early_stop_fn=early_stop_fn,
        progress_callback=progress_callback, workers=workers, poll_interval=poll_interval,
    )
    try:
        if workers is not None:
            workers.start()
        driver.run()
    except BaseException:
        # KeyboardInterrupt, a worker error or a store failure: leave nothing queued behind.
        _shutdown(driver, workers, interrupted=True)
        raise
    _shutdown(driver, workers, interrupted=driver.stop_reason is not None)
    if len(trials) == 0:
        raise AllTrialsFailed("no trial was run (max_evals reached before the first trial?)")
    argmin = trials.argmin
    return argmin if return_argmin else space_eval(domain.expr, argmin)


def _shutdown(driver, workers, interrupted):
    errors = []
    if workers is not None:
        try:
            workers.stop()
        except Exception as e:  # still cancel the queue below, then report
            errors.append(e)
    if interrupted:
        try:
            driver.cancel_queued()
        except Exception as e:
            logger.error("could not cancel queued trials: %s: %s", type(e).__name__, e)
            errors.append(e)
    if errors and not interrupted:
        raise errors[0]
