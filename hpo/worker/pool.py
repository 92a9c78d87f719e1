"""Local worker processes for ``fmin(..., n_workers=N)``: start, watch, replace, stop.

The workers are forked from one preloaded server process (:mod:`hpo.worker.forkserver`)
started with the driver's ``sys.path`` (so objectives defined in the driver's modules
unpickle) and environment. The store url -- credentials and ``?options`` included -- and the
shared secret reach them through the environment (``HPO_STORE_URL``, ``HPO_SECRET``), never
through a command line that ``ps`` shows. They exit when the driver dies, even by SIGKILL.

Which exits are replaced:

- a clean exit (status 0, e.g. someone sent SIGTERM): replaced, not counted;
- a crash (killed by a signal, store unreachable, any other status): replaced while fewer
  than ``max_restarts`` replacements were made (default ``2 * n``);
- ``max_consecutive_failures`` objective errors in a row (status 1): not replaced (a new
  worker would fail the same way). With ``catch_eval_exceptions=True`` workers never exit
  on objective errors, so only crashes can end the pool;
- a domain the workers cannot verify or load, or bad arguments (status 3, 2): the pool gives
  up at once, since every replacement would do the same.

When no worker is left, :meth:`LocalWorkers.ensure_running` raises :class:`LocalWorkersFailed`
naming the policy that fired and the exit statuses seen.

>>> pool = LocalWorkers("sqlite:///exp.db", "exp", n=2)
>>> pool.n, pool.pids
(2, {})
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import socket
import sys
import time
import urllib.parse
import uuid

from ..stores import StoreURL, parse_store_url
from ..stores.payload import SECRET_ENV
from .cli import STORE_URL_ENV
from .exits import EXIT_FAILURES, EXIT_OK, EXIT_UNVERIFIED, EXIT_USAGE, describe
from .forkserver import ForkServer

logger = logging.getLogger(__name__)

POLICY_FAILURES = "max consecutive failures"
POLICY_RESTARTS = "max restarts after crashes"
POLICY_FATAL = "no restart can help"


class LocalWorkersFailed(RuntimeError):
    """No local worker is left. ``policy``: which rule ended the pool; ``statuses``: the exit
    statuses seen (negative: killed by that signal; None: lost with the fork server)."""

    def __init__(self, message, policy, statuses):
        super().__init__(message)
        self.policy, self.statuses = policy, list(statuses)


class LocalWorkers:
    """``n`` worker processes serving experiment ``exp_key`` of the store at ``url``.

    ``url``: the full store url (a string, or the :class:`~hpo.stores.StoreURL` of an open
    store; password and options are kept). ``secret``: see :class:`hpo.worker.Worker`.
    ``heartbeat``, ``log_level``, ``max_consecutive_failures``, ``poll_interval``: the
    workers' options. ``catch_eval_exceptions``: workers never exit on objective errors.
    ``max_restarts``: replacements of crashed workers (default ``2 * n``). ``stop_timeout``:
    seconds :meth:`stop` waits for workers to put their trials back before killing them.
    """

    def __init__(self, url, exp_key, n, secret=None, heartbeat=2.0, catch_eval_exceptions=False,
                 log_level="WARNING", max_restarts=None, max_consecutive_failures=4,
                 stop_timeout=15.0, poll_interval=0.2):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_workers must be an int >= 1, got {n!r}")
        if max_restarts is not None and (not isinstance(max_restarts, int) or max_restarts < 0):
            raise ValueError(f"max_restarts must be an int >= 0 or None, got {max_restarts!r}")
        if not isinstance(max_consecutive_failures, int) or max_consecutive_failures < 1:
            raise ValueError(f"max_consecutive_failures must be an int >= 1, got "
                             f"{max_consecutive_failures!r}")
        for name, value in (("heartbeat", heartbeat), ("poll_interval", poll_interval),
                            ("stop_timeout", stop_timeout)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        self._url = store_url_string(url)
        self.url = parse_store_url(self._url).redacted()  # for messages
        self.exp_key, self.n, self.secret = exp_key, n, secret
        self.heartbeat, self.log_level, self.poll_interval = heartbeat, log_level, poll_interval
        self.catch_eval_exceptions = bool(catch_eval_exceptions)
        self.max_consecutive_failures = max_consecutive_failures
        self.max_restarts = 2 * n if max_restarts is None else max_restarts
        self.stop_timeout = float(stop_timeout)
        self.restarts = 0  # crashed workers replaced
        self.statuses = []  # every exit status seen, in order
        self._server = None
        self._workers = {}  # worker id -> pid (None until the server reports it)
        self._unreported = []  # worker ids that exited, for reap()
        self._unhandled = []  # (worker id, status) that ensure_running() has not acted on

    def _environment(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
        env[STORE_URL_ENV] = self._url
        if self.secret is not None:
            env[SECRET_ENV] = self.secret.decode() if isinstance(self.secret, bytes) else self.secret
        return env

    def _argv(self, worker_id):
        failures = 0 if self.catch_eval_exceptions else self.max_consecutive_failures
        argv = ["--worker-id", worker_id, "--heartbeat", str(self.heartbeat),
                "--term-grace", "0", "--log-level", self.log_level,
                "--poll-interval", str(self.poll_interval),
                "--max-consecutive-failures", str(failures)]
        if self.exp_key is not None:
            argv += ["--exp-key", str(self.exp_key)]
        return argv

    def _spawn(self):
        if self._server is None or not self._server.running:
            # Workers of a server that died are lost with it, even if its last events were
            # not read yet; the next ensure_running() replaces them.
            for worker_id in list(self._workers):
                self._exited(worker_id, None, "the fork server exited")
            self._server = ForkServer(self._environment(), self.stop_timeout)
            self._server.start()
        worker_id = f"{socket.gethostname()}:local:{uuid.uuid4().hex[:8]}"
        self._workers[worker_id] = None
        self._server.spawn(worker_id, self._argv(worker_id))
        return worker_id

    def start(self):
        """Start the fork server and ask it for ``n`` workers; returns without waiting."""
        for _ in range(self.n):
            self._spawn()

    def _drain(self, timeout=0.0):
        if self._server is None:
            return
        for event in self._server.events(timeout):
            op = event["op"]
            if op == "started" and event["id"] in self._workers:
                self._workers[event["id"]] = event["pid"]
            elif op == "exited":
                self._exited(event["id"], event["status"], event.get("error"))
            elif op == "gone":
                for worker_id in list(self._workers):
                    self._exited(worker_id, None, "the fork server exited")

    def _exited(self, worker_id, status, error=None):
        if self._workers.pop(worker_id, "unknown") == "unknown":
            return
        self.statuses.append(status)
        self._unreported.append(worker_id)
        self._unhandled.append((worker_id, status))
        log = logger.info if status == EXIT_OK else logger.warning
        log("local worker %s exited with status %s%s", worker_id, describe(status),
            f": {error}" if error else "")

    @property
    def pids(self):
        """``{worker id: pid}`` of the workers started and not exited yet."""
        self._drain()
        return {wid: pid for wid, pid in self._workers.items() if pid is not None}

    def reap(self):
        """Ids of workers that exited since the last call (their trials can be requeued)."""
        self._drain()
        dead, self._unreported = self._unreported, []
        return dead

    def ensure_running(self):
        """Replace exited workers as the policy allows; raise when none is left."""
        self._drain()
        handled, self._unhandled = self._unhandled, []
        replace = 0
        for worker_id, status in handled:
            if status in (EXIT_USAGE, EXIT_UNVERIFIED):
                raise LocalWorkersFailed(
                    f"local worker {worker_id} exited with status {describe(status)}; every "
                    f"replacement would do the same (policy: {POLICY_FATAL}); its log above "
                    f"says why. Exit statuses seen: {self._summary()}", POLICY_FATAL,
                    self.statuses)
            if status == EXIT_OK:
                replace += 1
            elif status == EXIT_FAILURES:
                continue
            elif self.restarts < self.max_restarts:
                self.restarts += 1
                replace += 1
        for _ in range(replace):
            self._spawn()
        if not self._workers:
            raise self._failure()

    def _failure(self):
        failed_out = sum(1 for s in self.statuses if s == EXIT_FAILURES)
        if self.restarts >= self.max_restarts and len(self.statuses) > failed_out:
            policy = POLICY_RESTARTS
            why = (f"they crashed and the {self.max_restarts} restarts allowed after crashes "
                   f"are used up (policy: {policy}); run `hpo-worker --store {self.url}` by "
                   f"hand to see why")
        else:
            policy = POLICY_FAILURES
            why = (f"each stopped after max_consecutive_failures={self.max_consecutive_failures}"
                   f" failed trials in a row (policy: {policy}); pass "
                   f"catch_eval_exceptions=True to record failing trials and go on")
        return LocalWorkersFailed(f"all {self.n} local workers died: {why}. Exit statuses "
                                  f"seen: {self._summary()}", policy, self.statuses)

    def _summary(self):
        counts = collections.Counter(self.statuses)
        return ", ".join(f"{describe(s)} x{k}" for s, k in counts.items()) or "none"

    def stop(self):
        """SIGTERM every worker (each puts its trial back), SIGKILL stragglers, stop the server."""
        server = self._server
        if server is None:
            return
        for signum, patience in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 10.0)):
            self._drain()
            for worker_id in list(self._workers):
                if signum == signal.SIGKILL:
                    logger.warning("local worker %s did not stop on SIGTERM; killing it", worker_id)
                server.signal(worker_id, signum)
            deadline = time.monotonic() + patience
            while self._workers and time.monotonic() < deadline:
                self._drain(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
            if not self._workers:
                break
        server.close()
        self._drain()
        self._server, self._workers = None, {}


def store_url_string(url):
    """The full url string of ``url`` (a string, or a parsed :class:`StoreURL`).

    >>> store_url_string(parse_store_url("mongo://u:p%40ss@h:1/db/c?authSource=admin"))
    'mongo://u:p%40ss@h:1/db/c?authSource=admin'
    """
    if isinstance(url, str):
        return url
    if not isinstance(url, StoreURL):
        raise TypeError(f"url must be a store url string or a StoreURL, got {type(url).__name__}")
    if url.scheme == "sqlite":
        return f"sqlite:///{url.path}"
    auth = ""
    if url.username is not None:
        auth = urllib.parse.quote(url.username, safe="")
        if url.password is not None:
            auth += ":" + urllib.parse.quote(url.password, safe="")
        auth += "@"
    host = f"[{url.host}]" if ":" in url.host else url.host
    tail = f"/{url.collection}" if url.collection else ""
    query = f"?{urllib.parse.urlencode(list(url.options))}" if url.options else ""
    return f"mongo://{auth}{host}:{url.port}/{url.database}{tail}{query}"
