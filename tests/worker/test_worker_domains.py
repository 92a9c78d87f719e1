"""Domains a worker cannot use are put back for another worker; trials without a domain hash
run with their experiment's current domain."""

from __future__ import annotations

import hashlib
import logging
import pickle
import textwrap
import threading

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING, fmin, rand
from hpo.base import Domain
from hpo.stores.payload import DOMAIN_ATTACHMENT
from hpo.stores.trials import StoreTrials
from hpo.worker import EXIT_UNVERIFIED, Worker
from worker_support import (
    SPACE,
    python_path,
    quadratic,
    queue,
    start_worker,
    states,
    store_domain,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def no_secret_in_environment(monkeypatch, caplog):
    monkeypatch.delenv("HPO_SECRET", raising=False)
    caplog.set_level(logging.INFO, logger="hpo.worker")


def worker(url, exp_key="e", **kwargs):
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("reserve_timeout", 0.5)
    return Worker(url, exp_key=exp_key, heartbeat=0.2, **kwargs)


def test_a_worker_with_another_secret_puts_the_trial_back_and_exits(sqlite_url, caplog):
    trials = StoreTrials(sqlite_url, exp_key="e", secret="driver-secret")
    queue(trials, quadratic, 2)
    assert worker(sqlite_url, secret="another-secret").run() == EXIT_UNVERIFIED
    assert states(trials) == {JOB_STATE_NEW: 2}
    assert "does not carry a valid signature" in caplog.text
    assert "put back in the queue" in caplog.text
    # The trials are left to a worker that can run them.
    assert worker(sqlite_url, secret="driver-secret").run() == 0
    assert states(trials) == {JOB_STATE_DONE: 2}


def test_a_domain_whose_module_is_missing_here_is_put_back(sqlite_url, tmp_path, monkeypatch):
    # The objective lives in a module the driver imports but the first worker cannot:
    # cloudpickle stores it by reference, so unpickling fails in that worker.
    modules = tmp_path / "driver_modules"
    modules.mkdir()
    (modules / "vanishing_objective.py").write_text(textwrap.dedent("""
        def objective(params):
            return params["x"] ** 2
    """))
    without_modules = worker_env()  # the worker's path: this process's, before the import
    monkeypatch.syspath_prepend(str(modules))
    from vanishing_objective import objective

    trials = StoreTrials(sqlite_url, exp_key="e")
    queue(trials, objective, 1)
    log = tmp_path / "worker.log"
    proc = start_worker(sqlite_url, "e", log=str(log), env=without_modules)
    assert proc.wait(timeout=60) == EXIT_UNVERIFIED
    text = log.read_text()
    assert "No module named 'vanishing_objective'" in text and "PYTHONPATH" in text
    assert "Traceback" not in text
    assert states(trials) == {JOB_STATE_NEW: 1}
    # A worker that can import the module runs it.
    env = worker_env(path=python_path(str(modules)))
    proc = start_worker(sqlite_url, "e", "--max-jobs", "1", env=env)
    assert proc.wait(timeout=60) == 0
    assert states(trials) == {JOB_STATE_DONE: 1}


@pytest.mark.parametrize("prefix", [b"\xff" * 64, b"0" * 10, "é".encode() * 32],
                         ids=["bytes-ff", "short", "non-ascii"])
def test_a_garbage_signature_prefix_is_a_verification_error(sqlite_url, caplog, prefix):
    trials = StoreTrials(sqlite_url, exp_key="e")
    sha = queue(trials, quadratic, 1)
    name = f"{DOMAIN_ATTACHMENT}::{sha}"
    stored = trials.store.get_attachment("e", name)
    trials.store.set_attachment("e", name, prefix + stored[64:])
    assert worker(sqlite_url).run() == EXIT_UNVERIFIED
    assert "does not start with a 64-character signature" in caplog.text
    assert "UnicodeDecodeError" not in caplog.text
    assert states(trials) == {JOB_STATE_NEW: 1}


class _Evil:
    """Unpickling this creates a marker file: proof that a payload's code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_worker_with_a_secret_refuses_an_unsigned_domain(sqlite_url, tmp_path, caplog):
    trials = StoreTrials(sqlite_url, exp_key="e")  # the driver has no secret: unsigned
    queue(trials, quadratic, 1)
    assert worker(sqlite_url, secret="s3cret").run() == EXIT_UNVERIFIED
    assert "does not carry a valid signature" in caplog.text
    assert states(trials) == {JOB_STATE_NEW: 1}
    # What someone with write access to the database plants: an unsigned payload that runs
    # code when unpickled, and a trial pointing at it. It is refused before unpickling.
    evil = StoreTrials(sqlite_url, exp_key="evil")
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_Evil(str(marker)))
    sha = hashlib.sha256(blob).hexdigest()
    evil.store.set_attachment("evil", f"{DOMAIN_ATTACHMENT}::{sha}", b"-" * 64 + blob)
    docs = rand.suggest(evil.new_trial_ids(1), Domain(quadratic, SPACE), evil, 0)
    docs[0]["domain_sha256"] = sha
    evil.insert_trial_docs(docs)
    assert worker(sqlite_url, secret="s3cret", exp_key="evil").run() == EXIT_UNVERIFIED
    assert not marker.exists()
    assert states(evil) == {JOB_STATE_NEW: 1}


def test_trials_inserted_before_fmin_run_with_the_current_domain(store_url):
    trials = StoreTrials(store_url, exp_key="e")
    docs = rand.suggest(trials.new_trial_ids(3), Domain(quadratic, SPACE), trials, 0)
    trials.insert_trial_docs(docs)  # no domain stored yet, so the trials carry no hash
    assert all(d.get("domain_sha256") is None for d in trials.store.get_trials("e", [0, 1, 2]))
    fmin(quadratic, SPACE, algo=rand.suggest, max_evals=5, trials=trials, n_workers=1,
         show_progressbar=False, rstate=np.random.default_rng(0))
    assert states(trials) == {JOB_STATE_DONE: 5}
    for doc in trials.store.get_trials("e", [0, 1, 2]):
        assert doc["result"]["loss"] == pytest.approx(quadratic({"x": doc["misc"]["vals"]["x"][0]}))


def test_a_trial_without_hash_waits_for_its_experiments_first_domain(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(2), Domain(quadratic, SPACE),
                                          trials, 0))
    w = worker(sqlite_url, max_jobs=1, reserve_timeout=None)
    statuses = []
    thread = threading.Thread(target=lambda: statuses.append(w.run()))
    thread.start()
    try:
        wait_until(lambda: states(trials).get(JOB_STATE_RUNNING), 30, "the reservation")
        store_domain(trials, Domain(quadratic, SPACE))
        thread.join(timeout=30)
    finally:
        w.request_stop()
        thread.join(timeout=30)
    assert statuses == [0]
    assert states(trials) == {JOB_STATE_DONE: 1, JOB_STATE_NEW: 1}


def test_a_stop_while_waiting_for_the_domain_puts_the_trial_back(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(1), Domain(quadratic, SPACE),
                                          trials, 0))
    w = worker(sqlite_url, reserve_timeout=None)
    statuses = []
    thread = threading.Thread(target=lambda: statuses.append(w.run()))
    thread.start()
    wait_until(lambda: states(trials).get(JOB_STATE_RUNNING), 30, "the reservation")
    w.request_stop()
    thread.join(timeout=30)
    assert statuses == [0]
    assert states(trials) == {JOB_STATE_NEW: 1}


def test_results_of_a_signed_search_are_signed_by_the_workers(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e", secret="s3cret")
    fmin(quadratic, SPACE, algo=rand.suggest, max_evals=3, trials=trials, n_workers=1,
         show_progressbar=False, rstate=np.random.default_rng(0))
    assert states(trials) == {JOB_STATE_DONE: 3}
    assert all(d["result"]["status"] == "ok" for d in trials)  # none refused as unverified


def test_an_altered_suggestion_is_refused_and_the_worker_goes_on(sqlite_url):
    import sqlite3

    trials = StoreTrials(sqlite_url, exp_key="e", secret="s3cret")
    queue(trials, quadratic, 2)
    # Someone with write access to the database changes what trial 0 evaluates.
    with sqlite3.connect(sqlite_url[len("sqlite:///"):]) as c:
        assert c.execute("UPDATE trials SET doc = json_set(doc, '$.misc.vals.x[0]', 4.5) "
                         "WHERE tid = 0").rowcount == 1
    assert worker(sqlite_url, secret="s3cret").run() == 0
    forged, honest = trials.store.get_trials("e", [0, 1])
    assert forged["state"] == JOB_STATE_ERROR
    assert forged["misc"]["error"][0] == "PayloadVerificationError"
    assert "suggestion does not carry a valid signature" in forged["misc"]["error"][1]
    assert honest["state"] == JOB_STATE_DONE
