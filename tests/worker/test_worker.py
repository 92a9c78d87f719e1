"""fmin over store-backed trials with real worker processes: results, errors, stop conditions."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, fmin, rand
from hpo.base import Domain
from hpo.early_stop import no_progress_loss
from hpo.stores import WorkerTrialError
from hpo.stores.trials import StoreTrials
from hpo.worker import Worker
from worker_support import (
    SPACE,
    always_fails,
    deep_result,
    fails_when_negative,
    huge_result,
    medium_slow,
    queue,
    quadratic,
    sleepy,
    start_worker,
    states,
    stop_processes,
    store_domain,
    very_slow,
    wait_until,
    with_attachments,
    worker_env,
)

pytestmark = pytest.mark.timeout(180)


def run(trials, fn=quadratic, max_evals=10, **kwargs):
    kwargs.setdefault("rstate", np.random.default_rng(0))
    return fmin(fn, SPACE, algo=rand.suggest, max_evals=max_evals, trials=trials,
                show_progressbar=False, **kwargs)


def test_n_workers_runs_every_trial_and_returns_the_best(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    best = run(trials, max_evals=12, n_workers=2)
    assert states(trials) == {JOB_STATE_DONE: 12}
    assert sorted(trials.tids) == list(range(12))
    losses = [r["loss"] for r in trials.results]
    assert best == trials.argmin and trials.best_trial["result"]["loss"] == min(losses)
    assert len(trials.history) == 12
    # The workers really ran elsewhere: the owners are worker ids, not this process.
    assert {t["owner"].split(":")[1] for t in trials} == {"local"}
    # Resuming counts the trials already there; return_argmin=False gives the configuration.
    config = run(StoreTrials(sqlite_url, exp_key="e"), max_evals=15, n_workers=1,
                 return_argmin=False)
    assert set(config) == {"x"} and states(trials) == {JOB_STATE_DONE: 15}


def test_external_workers_log_one_line_per_trial_and_load_the_domain_once(store_url, tmp_path):
    log = tmp_path / "worker.log"
    procs = [start_worker(store_url, "ext", log=str(log)) for _ in range(2)]
    try:
        trials = StoreTrials(store_url, exp_key="ext")
        run(trials, fn=sleepy, max_evals=12)
        assert states(trials) == {JOB_STATE_DONE: 12}
    finally:
        stop_processes(procs)
    assert [p.returncode for p in procs] == [0, 0]
    text = log.read_text()
    assert text.count(" loss=") == 12
    assert 1 <= text.count("loaded domain") <= 2  # once per worker, not once per trial


def test_objective_errors_are_recorded_and_the_worker_goes_on(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    run(trials, fn=fails_when_negative, max_evals=16, n_workers=1, catch_eval_exceptions=True)
    counts = states(trials)
    assert counts[JOB_STATE_ERROR] >= 1 and counts[JOB_STATE_DONE] >= 1
    assert sum(counts.values()) == 16
    error = next(t for t in trials.all_trials if t["state"] == JOB_STATE_ERROR)
    assert "ZeroDivisionError" in error["misc"]["error"][0]
    assert "negative x=" in error["misc"]["error"][1]
    assert "fails_when_negative" in error["misc"]["traceback"]


def test_objective_error_is_raised_in_the_driver_by_default(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    with pytest.raises(WorkerTrialError, match="RuntimeError.*the objective is broken"):
        run(trials, fn=always_fails, max_evals=6, n_workers=1)
    assert JOB_STATE_NEW not in states(trials)  # nothing left queued behind


def test_worker_exits_after_consecutive_failures(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    store_domain(trials, Domain(always_fails, SPACE))
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(5), Domain(always_fails, SPACE),
                                          trials, 0))
    proc = start_worker(sqlite_url, "e", "--max-consecutive-failures", "2")
    assert proc.wait(timeout=60) == 1
    assert states(trials) == {JOB_STATE_ERROR: 2, JOB_STATE_NEW: 3}


def test_max_jobs_and_reserve_timeout(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, quadratic, 5)
    proc = start_worker(sqlite_url, "e", "--max-jobs", "3")
    assert proc.wait(timeout=60) == 0
    assert states(trials) == {JOB_STATE_DONE: 3, JOB_STATE_NEW: 2}
    proc = start_worker(sqlite_url, "e", "--reserve-timeout", "0.3")
    assert proc.wait(timeout=60) == 0
    assert states(trials) == {JOB_STATE_DONE: 5}


def sigterm_while_running(url, exp_key, fn, n_queued, grace):
    """Queue ``n_queued`` trials of ``fn``, SIGTERM a worker once one runs; return the trials."""
    trials = StoreTrials(url, exp_key=exp_key)
    queue(trials, fn, n_queued)
    proc = start_worker(url, exp_key, "--term-grace", str(grace))
    wait_until(lambda: states(trials).get(JOB_STATE_RUNNING), 30, "the trial to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    return trials


def test_sigterm_requeues_a_long_trial_and_lets_a_short_one_finish(sqlite_url):
    trials = sigterm_while_running(sqlite_url, "e", very_slow, 1, grace=0.2)
    (doc,) = trials.store.get_trials("e", [0])
    assert doc["state"] == JOB_STATE_NEW and doc["attempt"] == 1 and doc["owner"] is None
    # 1.5 s trials: the first must still be running when the signal lands, not the second.
    trials = sigterm_while_running(sqlite_url, "short", medium_slow, 2, grace=30)
    assert states(trials) == {JOB_STATE_DONE: 1, JOB_STATE_NEW: 1}


@pytest.mark.parametrize("grace, state", [(30.0, JOB_STATE_DONE), (0.0, JOB_STATE_NEW)])
def test_stop_between_reservation_and_objective_keeps_the_grace(sqlite_url, grace, state):
    # The window a SIGTERM can hit while the worker loads the domain: the store already shows
    # the trial RUNNING, so it gets the grace like any running trial (and none when grace is 0).
    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, quadratic, 1)
    worker = Worker(sqlite_url, exp_key="e", term_grace=grace)
    doc = worker.store.reserve(worker.worker_id, "e")
    alarm_handler = signal.getsignal(signal.SIGALRM)
    worker.stopping.on_signal(signal.SIGTERM, None)
    assert worker.run_trial(doc) is True
    assert states(trials) == {state: 1}
    assert signal.getsignal(signal.SIGALRM) is alarm_handler  # the grace timer was given back


@pytest.mark.parametrize("stop", ["loss_threshold", "timeout", "early_stop_fn"])
def test_stop_conditions_leave_nothing_queued(sqlite_url, stop):
    options = {"loss_threshold": dict(loss_threshold=20.0),
               "timeout": dict(timeout=1.0),
               "early_stop_fn": dict(early_stop_fn=no_progress_loss(2))}[stop]
    trials = StoreTrials(sqlite_url, exp_key="e")
    # Workers that are up before the search starts, so that the timeout measures trials.
    procs = [start_worker(sqlite_url, "e") for _ in range(2)]
    try:
        wait_until(lambda: len(trials.store.live_workers("e", 60)) == 2, 60, "2 workers")
        run(trials, fn=sleepy, max_evals=200, **options)
        counts = states(trials)  # trials running when the search stopped may still finish
        assert JOB_STATE_NEW not in counts
        assert 1 <= counts[JOB_STATE_DONE] < 200
    finally:
        stop_processes(procs)
    if stop == "loss_threshold":
        assert trials.history.best_loss <= 20.0


def test_worker_objective_writes_attachments_and_checkpoints(store_url):
    trials = StoreTrials(store_url, exp_key="att")
    run(trials, fn=with_attachments, max_evals=3, n_workers=1)
    assert states(trials) == {JOB_STATE_DONE: 3}
    for doc in trials:
        x = doc["misc"]["vals"]["x"][0]
        assert trials.trial_attachments(doc)["weights"] == b"w" * 10 + str(x).encode()
        assert doc["result"]["wrote"] is True


def test_keyboard_interrupt_stops_driver_and_workers(sqlite_url, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        from hpo import fmin, rand
        from hpo.stores.trials import StoreTrials
        from worker_support import SPACE, slow
        trials = StoreTrials({sqlite_url!r}, exp_key="e")
        print("started", flush=True)
        fmin(slow, SPACE, algo=rand.suggest, max_evals=500, trials=trials, n_workers=2,
             show_progressbar=False, rstate=np.random.default_rng(0))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], env=worker_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trials = StoreTrials(sqlite_url, exp_key="e")
    try:
        wait_until(lambda: states(trials).get(JOB_STATE_DONE, 0) >= 3, 60, "3 finished trials")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    counts = states(trials)
    assert JOB_STATE_NEW not in counts and JOB_STATE_RUNNING not in counts
    assert trials.store.live_workers("e", within=3600) == []  # the local workers unregistered


def stored_outcomes(url, fn, n):
    trials = StoreTrials(url, exp_key="big")
    queue(trials, fn, n)
    worker = Worker(url, exp_key="big", max_jobs=n, poll_interval=0.05, heartbeat=0.2)
    assert worker.run() == 0  # the worker went on after the first result was refused
    return trials, trials.store.get_trials("big", range(n))


@pytest.mark.mongo
def test_a_result_larger_than_a_mongo_document_becomes_an_error_trial(mongo_url):
    trials, docs = stored_outcomes(mongo_url, huge_result, 2)
    assert states(trials) == {JOB_STATE_ERROR: 2}
    for doc in docs:
        assert "could not be stored" in doc["result"]["failure"]
        assert "DocumentTooLarge" in doc["result"]["failure"] or "ResultTooLarge" in doc["result"]["failure"]
        assert len(repr(doc)) < 100_000  # the small result, not the 20 MB one


def test_any_error_writing_the_result_becomes_an_error_trial(store_url):
    trials, docs = stored_outcomes(store_url, deep_result, 2)
    assert states(trials) == {JOB_STATE_ERROR: 2}
    for doc in docs:
        assert doc["result"]["failure"].startswith("the result could not be stored: Recursion")
        assert doc["misc"]["error"][1] == doc["result"]["failure"]
