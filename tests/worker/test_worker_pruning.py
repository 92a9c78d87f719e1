"""Pruning across hpo-worker processes, on SQLite and MongoDB."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from pruning_support import (
    BARRIER_DIR_ENV,
    asha_pair,
    by_budget,
    count_store_calls,
    epochs,
)
from worker_support import start_worker, stop_processes, store_domain, worker_env

from hpo import fmin, hp, rand
from hpo.base import Domain
from hpo.pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner
from hpo.stores import open_store
from hpo.stores.trials import StoreTrials
from hpo.worker.loop import Worker

SPACE = {"x": hp.uniform("x", 0, 1)}


def run_with_workers(url, exp_key, fn, tmp_path, n_workers=2, **kwargs):
    """``fmin`` driving ``n_workers`` hpo-worker subprocesses; returns the trials sorted by tid."""
    env = worker_env()
    env[BARRIER_DIR_ENV] = str(tmp_path)
    log = tmp_path / "workers.log"
    workers = [start_worker(url, exp_key, env=env, log=str(log)) for _ in range(n_workers)]
    trials = StoreTrials(url, exp_key=exp_key)
    try:
        fmin(fn, SPACE, algo=rand.suggest, trials=trials, show_progressbar=False,
             rstate=np.random.default_rng(0), **kwargs)
    finally:
        stop_processes(workers)
    trials.refresh()
    return sorted(trials, key=lambda t: t["tid"]), log


def test_asha_prunes_with_the_report_of_a_trial_running_in_the_other_worker(store_url, tmp_path):
    docs, log = run_with_workers(
        store_url, "asha_pair", asha_pair, tmp_path, max_evals=2,
        points_to_evaluate=[{"x": 0.1}, {"x": 0.9}],
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=2))
    first, second = docs
    assert [first["result"]["status"], second["result"]["status"]] == ["ok", "pruned"], \
        log.read_text()[-3000:]
    # The two trials ran in different workers, and the second was judged while the first was
    # still running (the first waits for that decision before it finishes): only the first's
    # report, read from the store, could make the second lose at rung 1 -- alone there, it
    # would have gone on.
    assert first["owner"] != second["owner"]
    assert second["result"]["intermediate"] == [[1, 0.9]]
    assert second["result"]["loss"] == 0.9
    assert first["result"]["intermediate"] == [[1, 0.1], [2, 0.05]]
    barrier = tmp_path / "first_reported"
    assert '"stopped": false' in barrier.read_text()   # alone at the rung, never waiting


@pytest.mark.parametrize("pruner", [
    MedianPruner(n_startup_trials=3),
    SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
], ids=["median", "asha", "hyperband"])
def test_each_pruner_stops_trials_run_by_two_workers_on_sqlite(sqlite_url, tmp_path, pruner):
    docs, log = run_with_workers(sqlite_url, "pruners", epochs, tmp_path, max_evals=16,
                                 pruner=pruner)
    statuses = [d["result"]["status"] for d in docs]
    assert len(docs) == 16 and set(statuses) <= {"ok", "pruned"}, log.read_text()[-3000:]
    assert "pruned" in statuses and "ok" in statuses
    for d in docs:
        steps = [s for s, _ in d["result"]["intermediate"]]
        assert steps == list(range(1, len(steps) + 1))
        assert (len(steps) == 9) == (d["result"]["status"] == "ok")


def test_budgets_are_granted_and_promoted_through_the_store(sqlite_url, tmp_path):
    docs, log = run_with_workers(
        sqlite_url, "budgets", by_budget, tmp_path, max_evals=24,
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, max_resource=9))
    assert all(d["result"]["status"] == "ok" for d in docs), log.read_text()[-3000:]
    by_tid = {d["tid"]: d for d in docs}
    promoted = [d for d in docs if "promoted_from" in d["misc"]]
    assert promoted
    for d in docs:
        assert d["result"]["seen_budget"] == d["result"]["budget"] == d["misc"]["budget"]
    for d in promoted:
        source = by_tid[d["misc"]["promoted_from"]]
        assert d["misc"]["vals"] == source["misc"]["vals"]
        assert d["misc"]["budget"] == 3 * source["misc"]["budget"]


def test_a_report_costs_one_write_and_at_most_one_incremental_read(store_url):
    """No rescan per report: with 30 finished trials in the store, a new trial's reports
    write once each and read only what changed since the worker's last read."""
    store = count_store_calls(open_store(store_url, connect_timeout=20))
    trials = StoreTrials(store, exp_key="reads")
    domain = Domain(epochs, SPACE, pruner=SuccessiveHalvingPruner(min_resource=1,
                                                                  reduction_factor=3))
    store_domain(trials, domain)
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(30), domain, trials, 0))
    worker = Worker(store, exp_key="reads", max_jobs=30, heartbeat=60)
    store.reset_counts()
    assert worker.run() == 0
    first_reads = list(store.docs_read)
    assert first_reads[0] == 30          # the worker's first look reads the experiment once

    if hasattr(store, "jobs"):
        # MongoDB readers re-read the last CHANGE_MARGIN seconds of changes on purpose (writes
        # timestamped before a read may commit after it); date the finished history back, as
        # if it had run earlier, so that only the reads of the new trial are measured.
        store.jobs.update_many({"exp_key": "reads"}, {"$set": {
            "refresh_time": datetime.datetime(2000, 1, 1)}})
    # One more trial: the best configuration, so that it is never pruned and reports 9 times.
    trials.refresh()
    best = min(trials, key=lambda t: t["result"]["loss"])
    doc, = trials.new_trial_docs([100], [None], [{"status": "new"}],
                                 [dict(best["misc"], tid=100, idxs={"x": [100]})])
    trials.insert_trial_docs([doc])
    store.reset_counts()
    worker.max_jobs = 31
    assert worker.run() == 0
    calls, docs_read = dict(store.calls), list(store.docs_read)   # the worker's, not ours
    trials.refresh()
    last = trials.trial_by_tid(100)
    assert last["result"]["status"] == "ok" and len(last["result"]["intermediate"]) == 9
    assert calls["checkpoint"] == 9            # one write per report
    assert calls.get("get_trials", 0) == 0
    assert calls["changes_since"] == 3         # only at the rungs 1, 3 and 9
    # Each read returns what changed since the last one (the new trial, the own document),
    # never the 30 finished trials again.
    assert max(docs_read) <= 3, docs_read
    store.close()
