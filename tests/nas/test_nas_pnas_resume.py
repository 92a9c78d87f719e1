"""pnas with parallel workers on SQLite, and a search killed with SIGKILL then resumed."""

from __future__ import annotations

import functools
import json
import os
import textwrap

import numpy as np
import pytest
from pnas_support import MultisetPrior, toy_objective, toy_space
from worker_support import (
    journal_counts,
    kill_driver_at,
    python_path,
    start_worker,
    stop_processes,
    wait_until,
    worker_env,
)

from hpo import JOB_STATE_DONE, fmin
from hpo.nas import pnas
from hpo.stores import StoreTrials
from hpo.trials_file import load_trials

pytestmark = pytest.mark.timeout(180)

HERE = os.path.dirname(os.path.abspath(__file__))


def recording(calls, **options):
    """pnas.suggest that records, per call, (ids asked, docs returned, trials unfinished)."""
    algo = functools.partial(pnas.suggest, **options)

    def suggest(new_ids, domain, trials, seed):
        docs = algo(new_ids, domain, trials, seed)
        calls.append((len(new_ids), len(docs), len(trials.unfinished_trials)))
        return docs

    return suggest


def check_search(trials, n):
    trials.refresh()
    hashes = [t["misc"]["nas_hash"] for t in trials]
    assert len(trials) == n and len(set(hashes)) == n
    assert all(t["state"] == JOB_STATE_DONE for t in trials)
    prior = MultisetPrior()
    assert all(prior.decode(t["misc"]["vals"]["v"][0]).hash == t["misc"]["nas_hash"] for t in trials)


class OverlappingObjective:
    """``toy_objective`` whose n-th trial (in starting order) ends only once trial n+1 started.

    Each start claims the next free marker file in ``folder`` (``O_EXCL``, so two workers
    never take the same number). A trial that returned at once could finish before the driver
    reads the store again, and the driver would then only ever see idle workers; with this, a
    trial is always running when the next ones are suggested, whatever the machine's load.
    """

    def __init__(self, folder, n_trials, deadline=60.0):
        self.folder, self.n_trials, self.deadline = str(folder), n_trials, deadline

    def _claim(self):
        n = 0
        while True:
            try:
                os.close(os.open(os.path.join(self.folder, str(n)), os.O_CREAT | os.O_EXCL))
                return n
            except FileExistsError:
                n += 1

    def __call__(self, params):
        n = self._claim()
        if n + 1 < self.n_trials:
            wait_until(lambda: os.path.exists(os.path.join(self.folder, str(n + 1))), self.deadline,
                       f"trial {n + 1} to start while trial {n} runs")
        return toy_objective(params)


def test_two_workers_on_sqlite_get_distinct_values_and_are_never_left_idle(sqlite_url, tmp_path):
    calls = []
    trials = StoreTrials(sqlite_url, exp_key="pnas")
    objective = OverlappingObjective(tmp_path, 40)
    fmin(objective, toy_space(), algo=recording(calls, beam=2), max_evals=40, trials=trials,
         n_workers=2, rstate=np.random.default_rng(0), show_progressbar=False)
    check_search(trials, 40)
    # Every call while trials were running filled every id it was given: never [] (which
    # would end the search) and never fewer ids than workers were waiting for.
    running = [c for c in calls if c[2] > 0]
    assert running, calls
    assert all(returned == asked for asked, returned, _ in calls), calls
    reasons = {t["misc"]["pnas"]["reason"] for t in trials}
    assert {"initial", "beam"} <= reasons
    # The state and the Spearman record live in the store's attachments.
    assert pnas.STATE_PREFIX + "v" in trials.attachments
    assert json.loads(trials.attachments[pnas.spearman_key("v")].decode())


def test_hpo_workers_continue_a_search_from_the_stored_state(sqlite_url, tmp_path):
    env = worker_env(path=python_path(HERE))
    procs = [start_worker(sqlite_url, "pnas", env=env, log=str(tmp_path / "w.log")) for _ in range(2)]
    try:
        for n in (20, 33):  # a second driver continues where the first stopped
            trials = StoreTrials(sqlite_url, exp_key="pnas")
            fmin(toy_objective, toy_space(), algo=functools.partial(pnas.suggest, beam=2),
                 max_evals=n, trials=trials, rstate=np.random.default_rng(n), show_progressbar=False)
            check_search(trials, n)
    finally:
        stop_processes(procs)
    levels = [t["misc"]["pnas"]["level"] for t in trials]
    assert max(levels) >= 3


DRIVER = textwrap.dedent("""
    import functools, os, sys, threading
    import numpy as np
    from hpo import fmin
    from hpo.nas import pnas
    from pnas_support import toy_objective, toy_space

    path, block_after = sys.argv[1], int(sys.argv[2])
    calls = []

    def objective(params):
        calls.append(1)
        if len(calls) > block_after:
            threading.Event().wait()  # this trial never ends: the test kills the process here
        return toy_objective(params)

    fmin(objective, toy_space(), algo=functools.partial(pnas.suggest, beam=2), max_evals=30,
         max_queue_len=3, trials_save_file=path, rstate=np.random.default_rng(0),
         show_progressbar=False)
""")


def test_a_search_killed_with_sigkill_resumes_to_max_evals_without_repeats(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    path = str(tmp_path / "search.jsonl")
    kill_driver_at(script, path, 12, 120, worker_env(path=python_path(HERE)))
    before = load_trials(path)
    assert journal_counts(path)[0] == 12 and len(before) > 12  # queued ones come back NEW
    assert pnas.STATE_PREFIX + "v" in before.attachments
    first = [t["misc"]["nas_hash"] for t in before.trials[:12]]

    fmin(toy_objective, toy_space(), algo=functools.partial(pnas.suggest, beam=2), max_evals=30,
         max_queue_len=3, trials_save_file=path, rstate=np.random.default_rng(1), show_progressbar=False)
    trials = load_trials(path)
    check_search(trials, 30)
    assert [t["misc"]["nas_hash"] for t in trials.trials[:12]] == first
    levels = [t["misc"]["pnas"]["level"] for t in trials]
    assert max(levels) >= 3  # the resumed search went on level by level
