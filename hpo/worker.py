"""The worker loop and the ``hpo-worker`` command (also ``hpo worker``).

A worker reserves NEW trials from a store, runs the objective in its own process while a
heartbeat thread keeps the trial alive, and writes the result (or the exception, with its
traceback, as an ERROR trial). It loads each experiment's domain once and caches it by hash.

::

    hpo-worker --store sqlite:///exp.db --exp-key exp1
    hpo-worker --store mongo://host:27017/hpo_db --exp-key exp1 --max-jobs 100

SIGTERM (and Ctrl-C) stop the worker: idle, it exits at once; running a trial, it lets the
trial finish for up to ``--term-grace`` seconds, then puts it back in the queue (NEW) and exits.
A trial is running from the moment it is reserved, before its objective starts.

>>> import argparse
>>> parser = argparse.ArgumentParser(); add_arguments(parser)
>>> parser.parse_args(["--store", "sqlite:///e.db"]).poll_interval
0.5
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid

from .base import JOB_STATE_DONE, JOB_STATE_ERROR, Ctrl
from .stores import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRY_FOR,
    PayloadVerificationError,
    StoreError,
    open_store,
)
from .stores.payload import DOMAIN_ATTACHMENT, load_domain
from .stores.trials import StoreTrials

logger = logging.getLogger("hpo.worker")

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_UNVERIFIED = 0, 1, 2, 3
REGISTER_EVERY = 5.0


class WorkerTerminated(BaseException):
    """Raised in the objective when the worker must stop (SIGTERM after the grace period)."""


class WorkerCtrl(Ctrl):
    """The ``ctrl`` a worker's objective gets: attachments and checkpoints go to the store."""

    def __init__(self, trials, current_trial, owner):
        super().__init__(trials, current_trial=current_trial)
        self._owner = owner

    def checkpoint(self, result=None):
        if result is None:
            return
        doc = self.current_trial
        doc["result"] = result
        self.trials.store.checkpoint(doc["exp_key"], doc["tid"], self._owner, doc["attempt"],
                                     result)


class Worker:
    """Runs trials from the store at ``store`` (a URL or an open store).

    >>> import os, tempfile
    >>> w = Worker("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db"), max_jobs=1,
    ...            reserve_timeout=0.05)
    >>> w.run()   # nothing queued: gives up after idling 0.05 s
    0
    """

    def __init__(self, store, exp_key=None, workdir=None, max_jobs=None, poll_interval=0.5,
                 reserve_timeout=None, heartbeat=5.0, max_consecutive_failures=4,
                 term_grace=20.0, secret=None, worker_id=None, retry_for=DEFAULT_RETRY_FOR,
                 connect_timeout=DEFAULT_CONNECT_TIMEOUT):
        for name, value, low in (("poll_interval", poll_interval, 0), ("heartbeat", heartbeat, 0)):
            if not isinstance(value, (int, float)) or value <= low:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if reserve_timeout is not None and (not isinstance(reserve_timeout, (int, float))
                                            or reserve_timeout < 0):
            raise ValueError(f"reserve_timeout must be seconds >= 0 or None, got {reserve_timeout!r}")
        if max_jobs is not None and (not isinstance(max_jobs, int) or max_jobs < 1):
            raise ValueError(f"max_jobs must be an int >= 1 or None, got {max_jobs!r}")
        if not isinstance(max_consecutive_failures, int) or max_consecutive_failures < 1:
            raise ValueError(
                f"max_consecutive_failures must be an int >= 1, got {max_consecutive_failures!r}")
        self.store = open_store(store, connect_timeout=connect_timeout, retry_for=retry_for)
        self.exp_key, self.workdir, self.max_jobs = exp_key, workdir, max_jobs
        self.poll_interval, self.reserve_timeout = float(poll_interval), reserve_timeout
        self.heartbeat_every = float(heartbeat)
        self.max_consecutive_failures = max_consecutive_failures
        self.term_grace, self.secret = float(term_grace), secret
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._domains = {}  # sha256 -> Domain
        self._trials = {}  # exp_key -> StoreTrials (for ctrl.attachments)
        self._stop = threading.Event()
        self._running = False
        self._stop_requested_at = None
        self._alarm_handler_before = None  # set while the grace timer is armed
        self._registered_at = 0.0
        self.jobs_done = 0

    # -- stopping ------------------------------------------------------------------------------

    def request_stop(self, signum=None, frame=None):
        """Ask the worker to stop (the SIGTERM/SIGINT handler)."""
        if not self._stop.is_set():
            self._stop_requested_at = time.monotonic()
        self._stop.set()
        if self._running:
            self._arm_grace(f"signal {signum}")

    def _arm_grace(self, reason):
        """Let the running trial go on for what is left of the grace period, then stop it."""
        left = self.term_grace - (time.monotonic() - self._stop_requested_at)
        if left <= 0:
            raise WorkerTerminated(reason)
        if not _main_thread():  # timers need the main thread; the trial then simply finishes
            return
        previous = signal.signal(signal.SIGALRM, self._grace_over)
        if self._alarm_handler_before is None:
            self._alarm_handler_before = previous
        signal.setitimer(signal.ITIMER_REAL, left)

    def _disarm_grace(self):
        """Cancel the grace timer and give SIGALRM back to whoever had it (only if armed)."""
        if self._alarm_handler_before is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._alarm_handler_before)
            self._alarm_handler_before = None

    def _grace_over(self, signum, frame):
        if self._running:
            raise WorkerTerminated(f"still running {self.term_grace:g} s after SIGTERM")

    def install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    # -- the loop -------------------------------------------------------------------------------

    def _register(self, force=False):
        now = time.monotonic()
        if force or now - self._registered_at >= REGISTER_EVERY:
            self.store.register_worker(self.worker_id, {
                "host": socket.gethostname(), "pid": os.getpid(), "exp_key": self.exp_key,
                "jobs_done": self.jobs_done})
            self._registered_at = now

    def run(self):
        """Serve trials until ``max_jobs``, ``reserve_timeout``, too many failures or a stop."""
        self._register(force=True)
        idle_since = time.monotonic()
        backoff_start = min(0.005, self.poll_interval)
        backoff = backoff_start
        failures = 0
        try:
            while not self._stop.is_set():
                if self.max_jobs is not None and self.jobs_done >= self.max_jobs:
                    logger.info("worker %s: done %d jobs (max_jobs)", self.worker_id, self.jobs_done)
                    return EXIT_OK
                self._register()
                doc = self.store.reserve(self.worker_id, self.exp_key)
                if doc is None:
                    if self.reserve_timeout is not None and (
                            time.monotonic() - idle_since >= self.reserve_timeout):
                        logger.info("worker %s: idle for %.3g s (reserve_timeout), exiting",
                                    self.worker_id, self.reserve_timeout)
                        return EXIT_OK
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.poll_interval)
                    continue
                backoff = backoff_start
                ok = self.run_trial(doc)
                idle_since = time.monotonic()
                failures = 0 if ok else failures + 1
                if failures >= self.max_consecutive_failures:
                    logger.error("worker %s: %d consecutive failed trials, exiting",
                                 self.worker_id, failures)
                    return EXIT_FAILURES
            return EXIT_OK
        except PayloadVerificationError as e:
            logger.error("worker %s: %s", self.worker_id, e)
            return EXIT_UNVERIFIED
        finally:
            try:
                self.store.unregister_worker(self.worker_id)
            except StoreError as e:
                logger.warning("worker %s: could not unregister: %s", self.worker_id, e)

    def _domain(self, doc):
        sha = doc.get("domain_sha256")
        domain = self._domains.get(sha)
        if domain is None:
            data = self.store.get_attachment(doc["exp_key"], f"{DOMAIN_ATTACHMENT}::{sha}")
            where = f"{self.store.url.redacted()} (exp_key {doc['exp_key']!r})"
            if data is None:
                raise PayloadVerificationError(f"{where} holds no domain with hash {sha!r}")
            signature = data[:64].decode()
            info = {"sha256": sha, "hmac": None if signature == "-" * 64 else signature}
            domain = load_domain(data[64:], info, sha, secret=self.secret, where=where)
            self._domains[sha] = domain
            logger.info("worker %s: loaded domain %s... of exp %r (%d bytes)", self.worker_id,
                        sha[:12], doc["exp_key"], len(data) - 64)
        return domain

    def _ctrl(self, doc):
        trials = self._trials.get(doc["exp_key"])
        if trials is None:
            trials = StoreTrials(self.store, exp_key=doc["exp_key"], refresh=False,
                                 secret=self.secret)
            self._trials[doc["exp_key"]] = trials
        return WorkerCtrl(trials, doc, self.worker_id)

    def _heartbeat_loop(self, doc, stop):
        while not stop.wait(self.heartbeat_every):
            try:
                if not self.store.heartbeat(doc["exp_key"], doc["tid"], self.worker_id,
                                            doc["attempt"]):
                    logger.warning("worker %s: trial %s was requeued while it ran here; its "
                                   "result will be refused", self.worker_id, doc["tid"])
                    return
                self._register()
            except StoreError as e:
                logger.warning("worker %s: heartbeat failed: %s", self.worker_id, e)

    def run_trial(self, doc):
        """Run one reserved trial and record its outcome; True when it finished ok."""
        start = time.monotonic()
        tid, exp_key, attempt = doc["tid"], doc["exp_key"], doc["attempt"]
        try:
            domain = self._domain(doc)
        except PayloadVerificationError as e:
            self.store.finish(exp_key, tid, self.worker_id, attempt, JOB_STATE_ERROR,
                              {"status": "fail", "failure": "unverified domain"},
                              {"error": [type(e).__name__, str(e)]})
            raise
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat_loop, args=(doc, stop), daemon=True)
        beat.start()
        cwd = os.getcwd()
        state, misc_update, result = JOB_STATE_DONE, None, None
        try:
            if self.workdir:
                trial_dir = os.path.join(self.workdir, str(exp_key), str(tid))
                os.makedirs(trial_dir, exist_ok=True)
                os.chdir(trial_dir)
            self._running = True
            try:
                # A stop that came after the reservation but before the objective started still
                # leaves the trial its grace: to the store and the user it was already running.
                if self._stop.is_set():
                    self._arm_grace("stop requested before the trial started")
                result = domain.evaluate(doc["misc"]["vals"], self._ctrl(doc))
            finally:
                self._running = False
                self._disarm_grace()
        except WorkerTerminated as e:
            stop.set()
            released = self.store.release(exp_key, tid, self.worker_id, attempt)
            logger.warning("worker %s: trial %s interrupted (%s), %s", self.worker_id, tid, e,
                           "requeued" if released else "already requeued elsewhere")
            self._stop.set()
            return True
        except Exception as e:
            state = JOB_STATE_ERROR
            result = {"status": "fail", "failure": f"{type(e).__name__}: {e}"}
            misc_update = {"error": [str(type(e)), str(e)], "traceback": traceback.format_exc()}
        finally:
            stop.set()
            os.chdir(cwd)
        written = self._finish(doc, state, result, misc_update)
        elapsed = time.monotonic() - start
        self.jobs_done += 1
        if state == JOB_STATE_DONE:
            logger.info("trial %s (exp %s): %s loss=%s in %.3f s%s", tid, exp_key,
                        result.get("status"), result.get("loss"), elapsed,
                        "" if written else " (refused: the trial was requeued meanwhile)")
        else:
            logger.warning("trial %s (exp %s): ERROR %s in %.3f s", tid, exp_key,
                           misc_update["error"][1], elapsed)
        return state == JOB_STATE_DONE

    def _finish(self, doc, state, result, misc_update):
        args = (doc["exp_key"], doc["tid"], self.worker_id, doc["attempt"])
        try:
            return self.store.finish(*args, state, result, misc_update)
        except (TypeError, ValueError) as e:  # a result the store cannot hold
            return self.store.finish(
                *args, JOB_STATE_ERROR, {"status": "fail", "failure": str(e)},
                {"error": [str(type(e)), f"the result could not be stored: {e}"],
                 "traceback": traceback.format_exc()})


def _main_thread():
    return threading.current_thread() is threading.main_thread()


def add_arguments(parser):
    """The options of ``hpo-worker`` / ``hpo worker``."""
    parser.add_argument("--store", required=True, help="store url: sqlite:///exp.db or "
                        "mongo://[user:pass@]host:port/db[/collection]")
    parser.add_argument("--exp-key", default=None, help="serve only this experiment (default: any)")
    parser.add_argument("--workdir", default=None, help="run each trial in WORKDIR/<exp_key>/<tid>")
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many trials")
    parser.add_argument("--poll-interval", type=float, default=0.5,
                        help="longest wait between polls when idle (polls start at 5 ms and "
                             "back off to this); default 0.5 s")
    parser.add_argument("--reserve-timeout", type=float, default=None,
                        help="exit after idling this many seconds (default: never)")
    parser.add_argument("--heartbeat", type=float, default=5.0,
                        help="seconds between heartbeats of a running trial (default 5)")
    parser.add_argument("--max-consecutive-failures", type=int, default=4,
                        help="exit after this many failed trials in a row (default 4)")
    parser.add_argument("--term-grace", type=float, default=20.0,
                        help="on SIGTERM, let the running trial finish for this long, then "
                             "requeue it (default 20 s)")
    parser.add_argument("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT,
                        help="give up reaching the database server after this many seconds "
                             f"(default {DEFAULT_CONNECT_TIMEOUT:g})")
    parser.add_argument("--worker-id", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args):
    """Run a worker from parsed ``hpo-worker`` arguments; returns the exit status."""
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        worker = Worker(args.store, exp_key=args.exp_key, workdir=args.workdir,
                        max_jobs=args.max_jobs, poll_interval=args.poll_interval,
                        reserve_timeout=args.reserve_timeout, heartbeat=args.heartbeat,
                        max_consecutive_failures=args.max_consecutive_failures,
                        term_grace=args.term_grace, worker_id=args.worker_id,
                        connect_timeout=args.connect_timeout)
    except (ValueError, StoreError) as e:
        logger.error("hpo-worker: %s", e)
        return EXIT_USAGE
    worker.install_signal_handlers()
    logger.info("worker %s serving %s (exp_key %r)", worker.worker_id,
                worker.store.url.redacted(), args.exp_key)
    try:
        return worker.run()
    except StoreError as e:
        logger.error("hpo-worker: %s", e)
        return EXIT_FAILURES
    finally:
        worker.store.close()
