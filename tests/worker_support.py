"""Objectives and process utilities of the store and worker tests (no tests here).

Objectives live in an importable module so worker processes unpickle them by reference;
every subprocess gets the checkout and this directory on its PYTHONPATH, so it runs the code
under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hpo import STATUS_OK, hp, rand
from hpo.base import Domain

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
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


def mostly_fails(params):
    """Raises on 80% of SPACE (x < 3)."""
    if params["x"] < 3:
        raise ValueError(f"x={params['x']:.3f} is out of the working region")
    return params["x"]


def huge_result(params):
    """A 20 MB string in the result: more than a MongoDB document may hold (16 MB)."""
    return {"loss": params["x"], "status": STATUS_OK, "log": "x" * (20 * 2 ** 20)}


def deep_result(params):
    """A result nested deeper than any serializer recurses."""
    nested = []
    for _ in range(100_000):
        nested = [nested]
    return {"loss": params["x"], "status": STATUS_OK, "nested": nested}


def with_attachments(expr, memo, ctrl):
    """Writes a per-trial attachment and reads/writes an experiment attachment from a worker."""
    x = memo["x"]
    ctrl.attachments["weights"] = b"w" * 10 + str(x).encode()
    ctrl.checkpoint({"status": "running", "partial": 1})
    return {"loss": x ** 2, "status": STATUS_OK, "wrote": True}


with_attachments.fmin_pass_expr_memo_ctrl = True


def python_path(*extra):
    return os.pathsep.join([REPO_ROOT, HERE, *extra, *[p for p in sys.path if p]])


def worker_env(secret=None, path=None):
    """The environment of a test subprocess: this checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = path if path is not None else python_path()
    env.pop("HPO_SECRET", None)
    env.pop("HPO_STORE_URL", None)
    if secret is not None:
        env["HPO_SECRET"] = secret
    return env


def start_worker(url, exp_key, *args, secret=None, heartbeat=0.2, log=None, env=None):
    """An ``hpo worker`` subprocess (stderr to ``log`` when given)."""
    cmd = [sys.executable, "-m", "hpo.cli", "worker", "--exp-key", exp_key,
           "--heartbeat", str(heartbeat), "--poll-interval", "0.1", *args]
    if url is not None:
        cmd += ["--store", url]
    stderr = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, env=env or worker_env(secret), stdin=subprocess.DEVNULL,
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


def store_domain(trials, domain):
    """Store ``domain`` as ``trials``' experiment's current domain (what a driver does)."""
    from hpo.stores.domain import store_domain as store

    trials.domain_sha256 = store(trials.store, trials.exp_key, domain, trials.secret)
    return trials.domain_sha256


def queue(trials, fn, n, seed=0):
    """Store ``fn``'s domain and queue ``n`` random trials of it; returns the domain hash."""
    domain = Domain(fn, SPACE)
    sha = store_domain(trials, domain)
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(n), domain, trials, seed))
    return sha


def states(trials):
    counts = trials.store.count_by_state(trials.exp_key)
    return {k: v for k, v in counts.items() if v}


def process_gone(pid):
    """True when ``pid`` has exited (a zombie waiting for its parent counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


RELEASE_FILE_ENV = "HPO_TEST_RELEASE_FILE"


def waits_for_release(params):
    """Runs until the file named by ``$HPO_TEST_RELEASE_FILE`` exists (the test decides)."""
    path = os.environ[RELEASE_FILE_ENV]
    while not os.path.exists(path):
        time.sleep(0.02)
    return params["x"]


def journal_counts(path):
    """``(finished, recorded)`` trials in the ``trials_save_file`` journal at ``path``."""
    import json

    from hpo import JOB_STATE_DONE

    if not os.path.exists(path):
        return 0, 0
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")[1:]
    done, recorded = set(), set()
    for line in lines:
        try:
            doc = json.loads(line).get("doc")
        except ValueError:
            continue  # a torn last line
        if doc:
            recorded.add(doc["tid"])
            if doc["state"] == JOB_STATE_DONE:
                done.add(doc["tid"])
    return len(done), len(recorded)


def kill_driver_at(script, path, finished, timeout, env):
    """Run ``script path finished`` (a driver whose trial after ``finished`` never ends), wait
    until the journal at ``path`` holds ``finished`` done trials and the next one, then SIGKILL
    the driver; fail with its stderr if it ended on its own."""
    import signal

    proc = subprocess.Popen([sys.executable, str(script), path, str(finished)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: journal_counts(path) >= (finished, finished + 1) or proc.poll() is not None,
                   timeout, f"{finished} finished trials and the next one in the journal")
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
