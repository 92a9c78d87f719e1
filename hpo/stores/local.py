"""Local worker processes for ``fmin(..., n_workers=N)``: start, watch, restart, stop.

Each worker is ``python -m hpo.cli worker --store URL --exp-key KEY --worker-id ID`` with the
driver's ``sys.path`` (so objectives defined in the driver's modules unpickle) and, when a
secret is used, ``HPO_SECRET`` in its environment (never on its command line).

>>> pool = LocalWorkers("sqlite:///exp.db", "exp", n=2)
>>> pool.n
2
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

from .payload import SECRET_ENV

logger = logging.getLogger(__name__)


class LocalWorkers:
    """``n`` worker subprocesses serving one experiment of one store.

    ``max_restarts``: how many times in total a worker that died is replaced (a worker that
    keeps dying, e.g. on an import error, must not be restarted forever).
    """

    def __init__(self, url, exp_key, n, secret=None, heartbeat=2.0, max_restarts=None,
                 stop_timeout=15.0, log_level="WARNING"):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_workers must be an int >= 1, got {n!r}")
        self.url = url if isinstance(url, str) else url.redacted()
        if hasattr(url, "password") and url.password:
            raise ValueError("local workers need the full store url; pass the url string")
        self.exp_key, self.n, self.secret = exp_key, n, secret
        self.heartbeat = heartbeat
        self.max_restarts = 2 * n if max_restarts is None else max_restarts
        self.restarts = 0
        self.stop_timeout = stop_timeout
        self.log_level = log_level
        self.procs = {}  # worker id -> Popen

    def _spawn(self):
        worker_id = f"{socket.gethostname()}:local:{uuid.uuid4().hex[:8]}"
        cmd = [sys.executable, "-m", "hpo.cli", "worker", "--store", self.url,
               "--worker-id", worker_id, "--heartbeat", str(self.heartbeat),
               "--term-grace", "0", "--log-level", self.log_level, "--poll-interval", "0.2"]
        if self.exp_key is not None:
            cmd += ["--exp-key", str(self.exp_key)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
        if self.secret is not None:
            env[SECRET_ENV] = self.secret.decode() if isinstance(self.secret, bytes) else self.secret
        self.procs[worker_id] = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        return worker_id

    def start(self):
        for _ in range(self.n):
            self._spawn()

    @property
    def pids(self):
        return {wid: p.pid for wid, p in self.procs.items()}

    def reap(self):
        """Ids of workers that exited since the last call (their trials can be requeued)."""
        dead = [wid for wid, p in self.procs.items() if p.poll() is not None]
        for wid in dead:
            code = self.procs.pop(wid).returncode
            logger.warning("local worker %s exited with code %s", wid, code)
        return dead

    def ensure_running(self):
        """Replace dead workers, within ``max_restarts``; raise when none is left."""
        while len(self.procs) < self.n and self.restarts < self.max_restarts:
            self.restarts += 1
            self._spawn()
        if not self.procs:
            raise RuntimeError(
                f"all {self.n} local workers died and {self.restarts} restarts did not help; "
                f"run `hpo-worker --store {self.url}` by hand to see why"
            )

    def stop(self):
        """SIGTERM every worker (each releases its current trial), then SIGKILL stragglers."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for wid, p in self.procs.items():
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("local worker %s did not stop on SIGTERM; killing it", wid)
                p.kill()
                p.wait()
        self.procs = {}
