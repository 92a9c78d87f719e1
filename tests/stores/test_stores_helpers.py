"""Objectives and process helpers shared by the store and worker tests (no tests here).

Objectives live in an importable module so worker processes unpickle them by reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hpo import STATUS_OK, hp

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SPACE = {"x": hp.uniform("x", -5, 5)}


def quadratic(params):
    return (params["x"] - 1.0) ** 2


def sleepy(params):
    time.sleep(0.05)
    return (params["x"] - 1.0) ** 2


def slow(params):
    time.sleep(0.2)
    return (params["x"] - 1.0) ** 2


def medium_slow(params):
    time.sleep(1.5)
    return (params["x"] - 1.0) ** 2


def very_slow(params):
    time.sleep(30)
    return 0.0


def fails_when_negative(params):
    if params["x"] < 0:
        raise ZeroDivisionError(f"negative x={params['x']}")
    return params["x"]


def always_fails(params):
    raise RuntimeError("the objective is broken")


def with_attachments(expr, memo, ctrl):
    """Writes a per-trial attachment and reads/writes an experiment attachment from a worker."""
    x = memo["x"]
    ctrl.attachments["weights"] = b"w" * 10 + str(x).encode()
    ctrl.checkpoint({"status": "running", "partial": 1})
    return {"loss": x ** 2, "status": STATUS_OK, "wrote": True}


with_attachments.fmin_pass_expr_memo_ctrl = True


def worker_env(secret=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([TESTS_DIR, *[p for p in sys.path if p]])
    env.pop("HPO_SECRET", None)
    if secret is not None:
        env["HPO_SECRET"] = secret
    return env


def start_worker(url, exp_key, *args, secret=None, heartbeat=0.2, log=None):
    """An ``hpo worker`` subprocess (stderr to ``log`` when given)."""
    cmd = [sys.executable, "-m", "hpo.cli", "worker", "--store", url, "--exp-key", exp_key,
           "--heartbeat", str(heartbeat), "--poll-interval", "0.1", *args]
    stderr = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, env=worker_env(secret), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    finally:
        if log:
            stderr.close()


def stop_processes(procs, timeout=20):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll ``predicate`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
