"""The heartbeat keeps a running trial alive, survives its own errors, and stops with the worker."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_NEW, JOB_STATE_RUNNING
from hpo.stores.sqlite import SQLiteStore
from hpo.stores.trials import StoreTrials
from hpo.worker import Worker
from worker_support import (
    RELEASE_FILE_ENV,
    queue,
    start_worker,
    states,
    stop_processes,
    very_slow,
    wait_until,
    waits_for_release,
)

pytestmark = pytest.mark.timeout(120)


class FlakyHeartbeatStore(SQLiteStore):
    """A real SQLite store whose first heartbeats fail with an error that is not a StoreError
    (what a database driver's unexpected exception looks like to the worker)."""

    def __init__(self, path, failures):
        super().__init__(path)
        self.failures_left, self.beats = failures, 0

    def heartbeat(self, exp_key, tid, owner, attempt):
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("injected: the database driver hiccuped")
        ok = super().heartbeat(exp_key, tid, owner, attempt)
        self.beats += 1
        return ok


def test_the_heartbeat_outlives_unexpected_errors(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="hpo.worker")
    release = tmp_path / "release"
    monkeypatch.setenv(RELEASE_FILE_ENV, str(release))
    path = tmp_path / "exp.db"
    trials = StoreTrials(f"sqlite:///{path}", exp_key="e")
    queue(trials, waits_for_release, 1)
    store = FlakyHeartbeatStore(str(path), failures=3)
    worker = Worker(store, exp_key="e", max_jobs=1, heartbeat=0.05, poll_interval=0.05)
    statuses = []
    thread = threading.Thread(target=lambda: statuses.append(worker.run()))
    thread.start()
    try:
        # Beats that succeed after the three that raised: the thread is still alive.
        wait_until(lambda: store.beats >= 3, 30, "heartbeats after the failed ones")
    finally:
        release.touch()
        thread.join(timeout=30)
    assert statuses == [0] and states(trials) == {JOB_STATE_DONE: 1}
    assert caplog.text.count("failed unexpectedly; still beating") == 3
    assert "injected: the database driver hiccuped" in caplog.text


def test_heartbeats_keep_a_long_trial_and_a_stopped_worker_loses_it(sqlite_url):
    stale_after = 1.0
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, very_slow, 1)
    proc = start_worker(sqlite_url, "e", "--term-grace", "0", heartbeat=0.1)
    try:
        wait_until(lambda: states(trials).get(JOB_STATE_RUNNING), 60, "the trial to start")
        # Well past stale_after, the driver's requeue check keeps finding the trial alive.
        end = time.monotonic() + 3 * stale_after
        while time.monotonic() < end:
            assert trials.store.requeue_stale("e", stale_after, 5) == (0, 0)
            time.sleep(0.1)
        assert states(trials) == {JOB_STATE_RUNNING: 1}
        # A frozen worker sends no heartbeat: its trial goes back to the queue.
        os.kill(proc.pid, signal.SIGSTOP)
        wait_until(lambda: trials.store.requeue_stale("e", stale_after, 5) == (1, 0), 30,
                   "the frozen worker's trial to be requeued")
        (doc,) = trials.store.get_trials("e", [0])
        assert doc["state"] == JOB_STATE_NEW and doc["owner"] is None
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
        stop_processes([proc])
