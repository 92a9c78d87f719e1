"""Local workers: forked from one server, replaced by policy, credentials kept off argv, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, fmin, rand
from hpo.stores.trials import StoreTrials
from hpo.worker.pool import (
    POLICY_FAILURES,
    POLICY_FATAL,
    POLICY_RESTARTS,
    LocalWorkers,
    LocalWorkersFailed,
)
from mongo_server import MONGO_URL_ENV, MongoTestServer
from worker_support import (
    RELEASE_FILE_ENV,
    SPACE,
    always_fails,
    mostly_fails,
    process_gone,
    quadratic,
    queue,
    states,
    wait_until,
    waits_for_release,
    worker_env,
)

pytestmark = pytest.mark.timeout(180)


def serve(pool, trials, until, timeout=120):
    """What a driver does with its pool: requeue the trials of dead workers, replace them."""
    end = time.monotonic() + timeout
    while not until():
        dead = pool.reap()
        if dead:
            trials.store.requeue_stale(trials.exp_key, 60.0, 5, owners=dead)
        pool.ensure_running()
        if time.monotonic() > end:
            raise AssertionError(f"the pool did not get there in {timeout} s")
        time.sleep(0.05)


def parent_pid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_objective_errors_never_stop_workers_that_catch_them(sqlite_url):
    # 80% of the space raises: without catch_eval_exceptions a worker exits after 4 failures
    # in a row and the pool gives up (test below). With it, every trial runs, on workers
    # that never exit: a replaced worker would have a new id, so at most the first two ids
    # own trials. Which of the two takes how many is up to the scheduler: one fast worker
    # may take them all, so the test does not ask for both.
    trials = StoreTrials(sqlite_url, exp_key="e")
    fmin(mostly_fails, SPACE, algo=rand.suggest, max_evals=100, trials=trials, n_workers=2,
         catch_eval_exceptions=True, show_progressbar=False, rstate=np.random.default_rng(0))
    counts = states(trials)
    assert sum(counts.values()) == 100 and counts[JOB_STATE_ERROR] >= 60
    assert 1 <= len({d["owner"] for d in trials.all_trials}) <= 2


def test_workers_that_catch_objective_errors_never_exit(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, mostly_fails, 60)
    pool = LocalWorkers(sqlite_url, "e", 2, catch_eval_exceptions=True, heartbeat=0.2)
    pool.start()
    try:
        serve(pool, trials, until=lambda: set(states(trials)) <= {JOB_STATE_DONE,
                                                                    JOB_STATE_ERROR})
        workers, exited_while_serving = set(pool.pids), list(pool.statuses)
    finally:
        pool.stop()
    assert states(trials)[JOB_STATE_ERROR] >= 30
    assert exited_while_serving == [] and pool.restarts == 0 and len(workers) == 2
    assert {d["owner"] for d in trials.all_trials} <= workers


def test_consecutive_failures_policy_names_itself(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, always_fails, 20)
    pool = LocalWorkers(sqlite_url, "e", 2, max_consecutive_failures=2, heartbeat=0.2)
    pool.start()
    try:
        with pytest.raises(LocalWorkersFailed) as info:
            serve(pool, trials, until=lambda: False)
    finally:
        pool.stop()
    assert info.value.policy == POLICY_FAILURES and info.value.statuses == [1, 1]
    message = str(info.value)
    assert "max_consecutive_failures=2" in message and "catch_eval_exceptions=True" in message
    assert "1 (too many failed trials in a row (max_consecutive_failures)) x2" in message
    assert states(trials) == {JOB_STATE_ERROR: 4, JOB_STATE_NEW: 16}


def test_crashed_workers_are_replaced_until_max_restarts(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv(RELEASE_FILE_ENV, str(tmp_path / "never"))
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, waits_for_release, 4)
    pool = LocalWorkers(sqlite_url, "e", 2, max_restarts=4, heartbeat=0.2)
    pool.start()
    killed = set()
    try:
        # Kill every worker, three times over: the first two rounds are replaced by new
        # processes (new pids), the third exceeds max_restarts=4 and ends the pool.
        for _ in range(3):
            serve(pool, trials, timeout=60, until=lambda: len(pool.pids) == 2
                  and not set(pool.pids.values()) & killed)
            pids = set(pool.pids.values())
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed |= pids
        with pytest.raises(LocalWorkersFailed) as info:
            serve(pool, trials, until=lambda: False, timeout=60)
    finally:
        pool.stop()
    assert len(killed) == 6 and pool.restarts == 4
    assert info.value.policy == POLICY_RESTARTS
    assert info.value.statuses == [-signal.SIGKILL] * 6
    assert "-9 (killed by SIGKILL) x6" in str(info.value)


def test_workers_import_objectives_from_the_drivers_path(sqlite_url, tmp_path, monkeypatch):
    modules = tmp_path / "only_on_the_drivers_path"
    modules.mkdir()
    (modules / "driver_side_objective.py").write_text(textwrap.dedent("""
        def objective(params):
            return params["x"] ** 2
    """))
    monkeypatch.syspath_prepend(str(modules))
    from driver_side_objective import objective

    trials = StoreTrials(sqlite_url, exp_key="e")
    fmin(objective, SPACE, algo=rand.suggest, max_evals=3, trials=trials, n_workers=1,
         show_progressbar=False)
    assert states(trials) == {JOB_STATE_DONE: 3}


@pytest.mark.mongo
def test_credentials_and_options_reach_workers_through_the_environment(tmp_path):
    if os.environ.get(MONGO_URL_ENV):
        pytest.skip("provisions users on its own server; not run against $HPO_TEST_MONGO_URL")
    import pymongo

    server = MongoTestServer(tmp_path / "auth").start()
    try:
        client = pymongo.MongoClient(host=server.host, port=server.port)
        client.admin.command("createUser", "alice", pwd="s3cr3t-pw", roles=["root"])
        client.close()
        server.stop()
        server.auth = True
        server.start()
        # The user lives in the admin database: without ?authSource=admin a worker would be
        # refused, so finished trials prove that the whole url reached the workers.
        url = f"{server.url('hpo_db', user='alice', password='s3cr3t-pw')}?authSource=admin"
        trials = StoreTrials(url, exp_key="e")
        queue(trials, quadratic, 3)
        pool = LocalWorkers(trials.store.url, "e", 2, heartbeat=0.2)  # the parsed url object
        pool.start()
        try:
            pids = wait_until(lambda: len(pool.pids) == 2 and pool.pids, 60, "two workers")
            serve(pool, trials, until=lambda: states(trials) == {JOB_STATE_DONE: 3})
            for pid in [*pids.values(), parent_pid(next(iter(pids.values())))]:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read()
                assert b"s3cr3t-pw" not in argv and b"authSource" not in argv, argv
        finally:
            pool.stop()
    finally:
        server.stop()


def test_local_workers_exit_when_the_driver_is_killed(sqlite_url, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        from hpo import fmin, rand
        from hpo.stores.trials import StoreTrials
        from worker_support import SPACE, slow
        fmin(slow, SPACE, algo=rand.suggest, max_evals=500, n_workers=2,
             trials=StoreTrials({sqlite_url!r}, exp_key="e"), show_progressbar=False,
             rstate=np.random.default_rng(0))
    """))
    driver = subprocess.Popen([sys.executable, str(script)], env=worker_env(), cwd=tmp_path,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    trials = StoreTrials(sqlite_url, exp_key="e")
    try:
        def busy_workers():
            live = trials.store.live_workers("e", 60)
            if len(live) == 2 and states(trials).get(JOB_STATE_RUNNING):
                return [w["pid"] for w in live]
        workers = wait_until(busy_workers, 60, "two busy workers")
        processes = {*workers, parent_pid(workers[0])}
        assert parent_pid(workers[0]) != driver.pid  # forked by the server, not the driver
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
        wait_until(lambda: all(process_gone(pid) for pid in processes), 30,
                   f"the local workers {sorted(processes)} to exit")
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    # Each worker put its trial back on the way out.
    assert JOB_STATE_RUNNING not in states(trials)


def test_workers_stop_when_their_fork_server_dies_and_the_pool_starts_another(
        sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv(RELEASE_FILE_ENV, str(tmp_path / "never"))
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, waits_for_release, 4)
    pool = LocalWorkers(sqlite_url, "e", 2, heartbeat=0.2)
    pool.start()
    try:
        serve(pool, trials, until=lambda: states(trials).get(JOB_STATE_RUNNING) == 2)
        pids = set(pool.pids.values())
        server = parent_pid(next(iter(pids)))
        os.kill(server, signal.SIGKILL)
        wait_until(lambda: all(process_gone(pid) for pid in pids), 30,
                   "the workers of the killed server to exit")
        serve(pool, trials, until=lambda: len(pool.pids) == 2
              and not set(pool.pids.values()) & pids)
        assert parent_pid(next(iter(pool.pids.values()))) != server
        assert pool.statuses == [None, None]  # lost with their server, not reaped by it
    finally:
        pool.stop()


def test_a_domain_the_workers_cannot_verify_ends_the_pool_at_once(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e", secret="the-drivers-secret")
    queue(trials, quadratic, 2)
    pool = LocalWorkers(sqlite_url, "e", 2, secret="another-secret", heartbeat=0.2)
    pool.start()
    try:
        with pytest.raises(LocalWorkersFailed) as info:
            serve(pool, trials, until=lambda: False, timeout=60)
    finally:
        pool.stop()
    assert info.value.policy == POLICY_FATAL and pool.restarts == 0
    assert "status 3 (the domain payload could not be verified" in str(info.value)
    assert states(trials) == {JOB_STATE_NEW: 2}  # put back for workers that can run them
