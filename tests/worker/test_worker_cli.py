"""The ``hpo-worker`` command: where the store url comes from, and what its exit status says."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from hpo import JOB_STATE_DONE
from hpo.stores.trials import StoreTrials
from hpo.worker import EXIT_UNAVAILABLE, EXIT_USAGE, STORE_URL_ENV
from mongo_server import free_port
from worker_support import quadratic, queue, states, worker_env

pytestmark = pytest.mark.timeout(120)


def hpo_worker(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hpo.cli", "worker", *args],
                          env=env or worker_env(), capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


def one_line(proc):
    """The single line the worker printed (no traceback)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_an_unreachable_server_is_not_a_usage_error():
    pytest.importorskip("pymongo")
    proc = hpo_worker("--store", f"mongo://127.0.0.1:{free_port()}/db/jobs",
                      "--connect-timeout", "1")
    assert proc.returncode == EXIT_UNAVAILABLE
    assert "127.0.0.1" in one_line(proc)


@pytest.mark.parametrize("case", ["missing directory", "not a store", "a directory"])
def test_a_sqlite_file_that_cannot_be_opened_exits_4_without_traceback(tmp_path, case):
    path = tmp_path / "exp.db"
    if case == "missing directory":
        path = tmp_path / "no" / "such" / "exp.db"
    elif case == "not a store":
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE users (name TEXT)")
    else:
        path.mkdir()
    proc = hpo_worker("--store", f"sqlite:///{path}")
    assert proc.returncode == EXIT_UNAVAILABLE
    assert str(path) in one_line(proc)


@pytest.mark.parametrize("args, message", [
    ((), f"pass --store URL or set {STORE_URL_ENV}"),
    (("--store", "redis://localhost/0"), "unknown scheme 'redis'"),
    (("--store", "sqlite:///e.db", "--heartbeat", "0"), "heartbeat must be"),
])
def test_bad_arguments_exit_2(args, message):
    proc = hpo_worker(*args)
    assert proc.returncode == EXIT_USAGE
    assert message in one_line(proc)


def test_the_store_url_can_come_from_the_environment(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, quadratic, 1)
    env = dict(worker_env(), **{STORE_URL_ENV: sqlite_url})
    proc = hpo_worker("--exp-key", "e", "--max-jobs", "1", "--log-level", "WARNING", env=env)
    assert proc.returncode == 0, proc.stderr
    assert states(trials) == {JOB_STATE_DONE: 1}


def test_help_documents_the_exit_statuses():
    proc = hpo_worker("--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "3 the domain payload could not be verified or loaded here" in text
    assert "4 the store could not be opened or stayed unreachable" in text
    assert STORE_URL_ENV in text
