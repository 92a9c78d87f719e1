"""The worker loop: reserve a trial, run it while its heartbeat flows, write its outcome.

An objective that raises makes an ERROR trial (with the traceback); a result the store cannot
hold makes an ERROR trial whose small result names the problem. A trial whose domain this
worker cannot verify or load is put back in the queue and the worker exits with
:data:`~hpo.worker.exits.EXIT_UNVERIFIED`, leaving the trial to a worker that can run it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
import uuid

from ..base import JOB_STATE_DONE, JOB_STATE_ERROR, Ctrl
from ..stores import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRY_FOR,
    PayloadVerificationError,
    StoreError,
    StoreUnavailable,
    open_store,
)
from ..stores.payload import sign_result, verify_suggestion
from ..stores.trials import StoreTrials
from .domains import DomainCache, DomainLoadError
from .exits import EXIT_FAILURES, EXIT_OK, EXIT_UNVERIFIED
from .heartbeat import Heartbeat
from .stopping import GracefulStop, WorkerTerminated

logger = logging.getLogger("hpo.worker")

REGISTER_EVERY = 5.0
#: Longest text of a store error kept in the ERROR result that replaces an unstorable result.
MAX_PROBLEM_CHARS = 2000


class WorkerCtrl(Ctrl):
    """The ``ctrl`` a worker's objective gets: attachments, checkpoints and reports go to the
    store, and pruning decisions read the other trials' reports from it."""

    def __init__(self, trials, current_trial, owner):
        super().__init__(trials, current_trial=current_trial)
        self._owner = owner

    def checkpoint(self, result=None):
        if result is None:
            return
        doc = self.current_trial
        doc["result"] = self.with_reports(result)
        self.trials.store.checkpoint(doc["exp_key"], doc["tid"], self._owner, doc["attempt"],
                                     doc["result"])

    def save_reports(self, intermediate):
        # One write per report: the other workers' pruners see it at their next read.
        super().save_reports(intermediate)
        doc = self.current_trial
        self.trials.store.checkpoint(doc["exp_key"], doc["tid"], self._owner, doc["attempt"],
                                     doc["result"])

    def sync_reports(self):
        # One incremental read: the trials changed since this worker's last look.
        self.trials.refresh()


class Worker:
    """Runs trials from the store at ``store`` (a URL or an open store).

    ``reserve_timeout``: exit after idling this many seconds. ``last_job_timeout``: reserve no
    new job once this many seconds have passed since :meth:`run` began (a deadline, Hyperopt's
    ``--last-job-timeout``); a trial running at the deadline finishes and is recorded. The
    first of the two to expire ends the worker.
    ``max_consecutive_failures``: exit after this many objective errors in a row (None: never).
    ``term_grace``: seconds a running trial may go on after a stop request (see
    :mod:`hpo.worker.stopping`). ``secret``: see :class:`~hpo.worker.domains.DomainCache`.

    >>> import os, tempfile
    >>> w = Worker("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db"), max_jobs=1,
    ...            reserve_timeout=0.05)
    >>> w.run()   # nothing queued: gives up after idling 0.05 s
    0
    """

    def __init__(self, store, exp_key=None, workdir=None, max_jobs=None, poll_interval=0.5,
                 reserve_timeout=None, heartbeat=5.0, max_consecutive_failures=4,
                 term_grace=20.0, secret=None, worker_id=None, retry_for=DEFAULT_RETRY_FOR,
                 connect_timeout=DEFAULT_CONNECT_TIMEOUT, last_job_timeout=None):
        for name, value in (("poll_interval", poll_interval), ("heartbeat", heartbeat)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        for name, value in (("reserve_timeout", reserve_timeout),
                            ("last_job_timeout", last_job_timeout)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{name} must be seconds >= 0 or None, got {value!r}")
        if max_jobs is not None and (not isinstance(max_jobs, int) or max_jobs < 1):
            raise ValueError(f"max_jobs must be an int >= 1 or None, got {max_jobs!r}")
        if max_consecutive_failures is not None and (
                not isinstance(max_consecutive_failures, int) or max_consecutive_failures < 1):
            raise ValueError(f"max_consecutive_failures must be an int >= 1 or None, got "
                             f"{max_consecutive_failures!r}")
        self.stopping = GracefulStop(term_grace)
        self.store = open_store(store, connect_timeout=connect_timeout, retry_for=retry_for)
        self.exp_key, self.workdir, self.max_jobs = exp_key, workdir, max_jobs
        self.poll_interval, self.reserve_timeout = float(poll_interval), reserve_timeout
        self.last_job_timeout = last_job_timeout
        self.heartbeat_every = float(heartbeat)
        self.max_consecutive_failures = max_consecutive_failures
        self.term_grace, self.secret = float(term_grace), secret
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.domains = DomainCache(self.store, secret)
        self._trials = {}  # exp_key -> StoreTrials (for ctrl.attachments)
        self._registered_at = 0.0
        self.jobs_done = 0

    def request_stop(self):
        """Ask the worker to stop (see :class:`~hpo.worker.stopping.GracefulStop`)."""
        self.stopping.request()

    def install_signal_handlers(self):
        """SIGTERM and SIGINT stop the worker gracefully."""
        self.stopping.install()

    def _register(self, force=False):
        now = time.monotonic()
        if force or now - self._registered_at >= REGISTER_EVERY:
            self.store.register_worker(self.worker_id, {
                "host": socket.gethostname(), "pid": os.getpid(), "exp_key": self.exp_key,
                "jobs_done": self.jobs_done})
            self._registered_at = now

    def run(self):
        """Serve trials until ``max_jobs``, ``reserve_timeout``, ``last_job_timeout``, too many
        failures or a stop.

        Returns the exit status (:mod:`hpo.worker.exits`).
        """
        self._register(force=True)
        idle_since = time.monotonic()
        deadline = None if self.last_job_timeout is None else idle_since + self.last_job_timeout
        backoff_start = min(0.005, self.poll_interval)
        backoff = backoff_start
        failures = 0
        try:
            while not self.stopping.requested:
                if self.max_jobs is not None and self.jobs_done >= self.max_jobs:
                    logger.info("worker %s: done %d jobs (max_jobs)", self.worker_id, self.jobs_done)
                    return EXIT_OK
                if deadline is not None and time.monotonic() >= deadline:
                    logger.info("worker %s: %.3g s since start (last_job_timeout), reserving no "
                                "more jobs; exiting", self.worker_id, self.last_job_timeout)
                    return EXIT_OK
                self._register()
                doc = self.store.reserve(self.worker_id, self.exp_key)
                if doc is None:
                    if self.reserve_timeout is not None and (
                            time.monotonic() - idle_since >= self.reserve_timeout):
                        logger.info("worker %s: idle for %.3g s (reserve_timeout), exiting",
                                    self.worker_id, self.reserve_timeout)
                        return EXIT_OK
                    # Wake at the deadline rather than up to one poll interval after it.
                    self.stopping.wait(backoff if deadline is None
                                       else max(0.0, min(backoff, deadline - time.monotonic())))
                    backoff = min(backoff * 2, self.poll_interval)
                    continue
                backoff = backoff_start
                ok = self.run_trial(doc)
                idle_since = time.monotonic()
                failures = 0 if ok else failures + 1
                if self.max_consecutive_failures and failures >= self.max_consecutive_failures:
                    logger.error("worker %s: %d consecutive failed trials, exiting",
                                 self.worker_id, failures)
                    return EXIT_FAILURES
            return EXIT_OK
        except (PayloadVerificationError, DomainLoadError) as e:
            logger.error("worker %s: %s. The trial was put back in the queue for a worker that "
                         "can run it; exiting with status %d", self.worker_id, e, EXIT_UNVERIFIED)
            return EXIT_UNVERIFIED
        finally:
            try:
                self.store.unregister_worker(self.worker_id)
            except StoreError as e:
                logger.warning("worker %s: could not unregister: %s", self.worker_id, e)

    def _ctrl(self, doc):
        trials = self._trials.get(doc["exp_key"])
        if trials is None:
            trials = StoreTrials(self.store, exp_key=doc["exp_key"], refresh=False,
                                 secret=self.secret)
            self._trials[doc["exp_key"]] = trials
        return WorkerCtrl(trials, doc, self.worker_id)

    def run_trial(self, doc):
        """Run one reserved trial and record its outcome; True unless the objective failed.

        Raises :class:`PayloadVerificationError` or :class:`DomainLoadError` (after putting
        the trial back in the queue) when this worker cannot use the trial's domain.
        """
        start = time.monotonic()
        unusable = outcome = None
        # The heartbeat covers the domain's download too: a large payload over a slow link,
        # or a trial waiting for its experiment's first domain, must not look dead.
        with Heartbeat(self.store, doc, self.worker_id, self.heartbeat_every,
                       on_beat=self._register):
            try:
                domain = self.domains.get(doc, stop=self.stopping)
            except (PayloadVerificationError, DomainLoadError) as e:
                domain, unusable = None, e
            if domain is not None:
                outcome = self._unverified_suggestion(doc) or self._evaluate(domain, doc)
        # Releases and results are written after the heartbeat stopped, so that a beat racing
        # with them is never mistaken for the trial having been taken away.
        if unusable is not None:
            self._release(doc, "its domain cannot be used by this worker")
            raise unusable
        if outcome is None:
            self._release(doc, "stopped while waiting for the experiment's domain")
            return True
        state, result, misc_update = outcome
        if state is None:
            self._release(doc, f"interrupted ({result})")
            self.stopping.request()
            return True
        written = self._finish(doc, state, result, misc_update)
        elapsed = time.monotonic() - start
        self.jobs_done += 1
        if misc_update and misc_update["error"][0] == "PayloadVerificationError":
            logger.error("trial %s (exp %s): %s", doc["tid"], doc["exp_key"],
                         misc_update["error"][1])
            return True  # a forged trial, not a failing objective
        if state == JOB_STATE_DONE:
            logger.info("trial %s (exp %s): %s loss=%s in %.3f s%s", doc["tid"], doc["exp_key"],
                        result.get("status"), result.get("loss"), elapsed,
                        "" if written else " (refused: the trial was requeued meanwhile)")
        else:
            logger.warning("trial %s (exp %s): ERROR %s in %.3f s", doc["tid"], doc["exp_key"],
                           misc_update["error"][1], elapsed)
        return state == JOB_STATE_DONE

    def _unverified_suggestion(self, doc):
        """The ERROR outcome of a trial whose suggestion fails its signature check, else None.

        Checked after the domain verified with this worker's secret, so a failure here means
        the trial document was forged or altered in the store, not that this worker has the
        wrong secret: the trial is refused and the worker goes on.
        """
        try:
            verify_suggestion(doc, self.secret)
        except PayloadVerificationError as e:
            return (JOB_STATE_ERROR, {"status": "fail", "failure": "unverified suggestion"},
                    {"error": ["PayloadVerificationError", str(e)]})
        return None

    def _evaluate(self, domain, doc):
        """``(state, result, misc_update)``; state None when a stop interrupted the trial."""
        cwd = os.getcwd()
        try:
            if self.workdir:
                trial_dir = os.path.join(self.workdir, str(doc["exp_key"]), str(doc["tid"]))
                os.makedirs(trial_dir, exist_ok=True)
                os.chdir(trial_dir)
            with self.stopping.trial_running():
                result = domain.evaluate(doc["misc"]["vals"], self._ctrl(doc))
            return JOB_STATE_DONE, result, None
        except WorkerTerminated as e:
            return None, str(e), None
        except Exception as e:
            return (JOB_STATE_ERROR, {"status": "fail", "failure": f"{type(e).__name__}: {e}"},
                    {"error": [str(type(e)), str(e)], "traceback": traceback.format_exc()})
        finally:
            os.chdir(cwd)

    def _release(self, doc, why):
        released = self.store.release(doc["exp_key"], doc["tid"], self.worker_id, doc["attempt"])
        logger.warning("worker %s: trial %s %s; %s", self.worker_id, doc["tid"], why,
                       "put back in the queue" if released else "already requeued elsewhere")

    def _finish(self, doc, state, result, misc_update):
        """Write the outcome; a result the store refuses becomes an ERROR naming the problem."""
        args = (doc["exp_key"], doc["tid"], self.worker_id, doc["attempt"])
        try:
            return self.store.finish(*args, state, result,
                                     self._signed(doc, state, result, misc_update))
        except StoreUnavailable:
            raise  # the database is gone, not the result: the trial is requeued when stale
        except Exception as e:  # too large, not serializable, too deep: anything but the store
            problem = _shorten(f"the result could not be stored: {type(e).__name__}: {e}")
            logger.warning("worker %s: trial %s: %s; recording the trial as ERROR",
                           self.worker_id, doc["tid"], problem)
            result = {"status": "fail", "failure": problem}
            misc_update = {"error": [str(type(e)), problem],
                           "traceback": _shorten(traceback.format_exc(), 10 * MAX_PROBLEM_CHARS)}
            return self.store.finish(*args, JOB_STATE_ERROR, result,
                                     self._signed(doc, JOB_STATE_ERROR, result, misc_update))

    def _signed(self, doc, state, result, misc_update):
        """``misc_update`` with the worker's signature of the outcome (when it has a secret)."""
        signature = sign_result(doc, state, result, self.secret)
        if signature is None:
            return misc_update
        return {**(misc_update or {}), "result_hmac": signature}


def _shorten(text, limit=MAX_PROBLEM_CHARS):
    """``text`` cut to ``limit`` characters (an error may quote the offending value)."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more chars)"
