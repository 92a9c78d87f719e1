"""Faults: workers killed with SIGKILL at random points, the database going away and back."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, fmin, rand
from hpo.stores.trials import StoreTrials
from mongo_server import MONGO_URL_ENV, MongoTestServer, ping
from worker_support import (
    SPACE,
    process_gone,
    sleepy,
    slow,
    start_worker,
    stop_processes,
    wait_until,
)

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def run_driver(trials, max_evals, result, fn=sleepy, **kwargs):
    try:
        result["best"] = fmin(fn, SPACE, algo=rand.suggest, max_evals=max_evals, trials=trials,
                              show_progressbar=False, rstate=np.random.default_rng(1), **kwargs)
    except BaseException as e:  # reported by the test
        result["error"] = e


def owner_pid(doc):
    return int(doc["owner"].split(":")[1])


def kill_inside_a_trial(victim, watcher, driver):
    """SIGKILL ``victim`` while it runs a trial; returns the tids it was running (None when
    the search ended first).

    The victim is frozen (SIGSTOP) before the store is read: a trial it still holds then can
    not finish before the kill, however slow the store's answer is.
    """
    def running_tids():
        docs = watcher.store.get_trials("kill", range(40))
        return [d["tid"] for d in docs if d["state"] == 1 and owner_pid(d) == victim.pid]

    while driver.is_alive():
        wait_until(lambda: running_tids() or not driver.is_alive(), 60, "a running victim")
        victim.send_signal(signal.SIGSTOP)
        tids = running_tids()
        if tids:
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            return tids
        victim.send_signal(signal.SIGCONT)  # it finished its trial meanwhile: try again
    return None


def test_killing_3_of_4_workers_loses_no_trial(store_url):
    rng = random.Random()
    procs = [start_worker(store_url, "kill", heartbeat=0.2) for _ in range(4)]
    trials = StoreTrials(store_url, exp_key="kill", stale_after=1.5)
    result = {}
    driver = threading.Thread(target=run_driver, args=(trials, 40, result))
    try:
        watcher = StoreTrials(store_url, exp_key="kill")
        wait_until(lambda: len(watcher.store.live_workers("kill", 60)) == 4, 60, "4 workers")
        driver.start()
        victims = rng.sample(procs, 3)
        killed, held = [], {}  # held: tid -> pid of the victim running it when killed
        for victim in victims:
            # A random point of the search, then the moment the victim is inside a trial.
            threshold = rng.randint(2, 25)
            wait_until(lambda: watcher.count_by_state_unsynced(JOB_STATE_DONE) >= threshold
                       or not driver.is_alive(), 120, f"{threshold} finished trials")
            time.sleep(rng.uniform(0, 0.05))
            tids = kill_inside_a_trial(victim, watcher, driver)
            if tids is None:
                break
            killed.append(victim.pid)
            held.update((tid, victim.pid) for tid in tids)
        driver.join(timeout=180)
        assert not driver.is_alive(), "the driver hung"
    finally:
        stop_processes(procs)
    assert "error" not in result, result.get("error")
    docs = watcher.store.get_trials("kill", range(100))
    assert len(docs) == 40
    assert sorted(d["tid"] for d in docs) == list(range(40))
    assert all(d["state"] == JOB_STATE_DONE for d in docs)
    assert len(killed) == 3
    # The trials the killed workers were running were requeued and run again elsewhere --
    # unless the victim's own "finished" write was already on its way to the store when it
    # was frozen (then the store shows the victim as the trial's owner).
    by_tid = {d["tid"]: d for d in docs}
    requeued = [tid for tid, pid in held.items() if owner_pid(by_tid[tid]) != pid]
    assert requeued, [by_tid[tid] for tid in held]
    for tid in requeued:
        assert by_tid[tid]["attempt"] >= 2 and owner_pid(by_tid[tid]) not in killed, by_tid[tid]
    assert len(trials.history) == 40


def test_n_workers_replaces_killed_local_workers_again_and_again(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="local", stale_after=1.5)
    result = {}
    driver = threading.Thread(target=run_driver, args=(trials, 40, result),
                              kwargs={"n_workers": 2, "fn": slow})
    driver.start()
    watcher = StoreTrials(sqlite_url, exp_key="local")
    killed = set()

    def two_new_workers():
        registered = {w["pid"] for w in watcher.store.live_workers("local", 60)}
        alive = {pid for pid in registered - killed if not process_gone(pid)}
        return alive if len(alive) == 2 else None
    # Every worker dies, twice: the search only finishes if the pool really starts new ones.
    for _ in range(2):
        pids = wait_until(two_new_workers, 120, "two new local workers")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed |= pids
    driver.join(timeout=180)
    assert not driver.is_alive(), "the driver hung"
    assert "error" not in result, result.get("error")
    docs = watcher.store.get_trials("local", range(100))
    assert sorted(d["tid"] for d in docs) == list(range(40))
    assert all(d["state"] == JOB_STATE_DONE for d in docs)
    assert len(killed) == 4


def test_sqlite_locked_for_a_while_then_back(sqlite_url, tmp_path):
    """Another process holds the write lock longer than SQLite's busy timeout (5 s)."""
    procs = [start_worker(sqlite_url, "lock") for _ in range(2)]
    trials = StoreTrials(sqlite_url, exp_key="lock")
    result = {}
    driver = threading.Thread(target=run_driver, args=(trials, 30, result))
    path = sqlite_url[len("sqlite:///"):]
    locker = [sys.executable, "-c",
              "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
              "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(7);"
              "c.execute('COMMIT')", path]
    try:
        driver.start()
        watcher = StoreTrials(sqlite_url, exp_key="lock")
        wait_until(lambda: watcher.count_by_state_unsynced(JOB_STATE_DONE) >= 5, 120, "5 trials")
        lock = subprocess.Popen(locker, stdout=subprocess.PIPE, text=True)
        assert lock.stdout.readline().strip() == "locked"
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(path, timeout=0.1, isolation_level=None).execute("BEGIN IMMEDIATE")
        assert lock.wait(timeout=60) == 0
        driver.join(timeout=180)
        assert not driver.is_alive(), "the driver hung"
    finally:
        stop_processes(procs)
    assert "error" not in result, result.get("error")
    assert watcher.count_by_state_unsynced(JOB_STATE_DONE) == 30


@pytest.mark.mongo
def test_mongo_server_goes_away_and_comes_back(tmp_path):
    if os.environ.get(MONGO_URL_ENV):
        pytest.skip("restarts its own server; not run against $HPO_TEST_MONGO_URL")
    pytest.importorskip("pymongo")
    server = MongoTestServer(tmp_path / "data").start()
    url = server.url("restart")
    procs = [start_worker(url, "r") for _ in range(2)]
    try:
        trials = StoreTrials(url, exp_key="r")
        result = {}
        driver = threading.Thread(target=run_driver, args=(trials, 20, result))
        driver.start()
        watcher = StoreTrials(url, exp_key="r")
        wait_until(lambda: watcher.count_by_state_unsynced(JOB_STATE_DONE) >= 4, 120, "4 trials")
        server.stop()
        assert not ping(server.host, server.port)
        # Down for a moment (the driver and workers keep retrying), then back on the same data.
        time.sleep(1.0)
        server.start()
        driver.join(timeout=180)
        assert not driver.is_alive(), "the driver hung"
        assert "error" not in result, result.get("error")
        docs = watcher.store.get_trials("r", range(100))
        assert sorted(d["tid"] for d in docs) == list(range(20))
        assert all(d["state"] == JOB_STATE_DONE for d in docs)
        assert all(p.poll() is None for p in procs)  # the workers survived the outage
    finally:
        stop_processes(procs)
        server.stop()
