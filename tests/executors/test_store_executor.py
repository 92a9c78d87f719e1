"""Store-backed searches through the one loop: workers, stop checks, errors, exhaustion."""

import logging
from contextlib import contextmanager

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_OK, fmin, grid, hp, rand
from hpo.base import new_misc
from hpo.exceptions import AllTrialsFailed
from hpo.executors.store import StoreExecutor
from hpo.stores import StoreTrials, WorkerTrialError

SPACE = hp.uniform("x", -1, 1)


def square(x):
    return x ** 2


def mostly_raises(x):
    if x > -0.6:  # 80 % of the space
        raise ValueError(f"no good: {x}")
    return x ** 2


def always_raises(x):
    raise ValueError("the objective is broken")


def search(trials, fn=square, space=SPACE, **kwargs):
    kwargs.setdefault("algo", rand.suggest)
    kwargs.setdefault("show_progressbar", False)
    kwargs.setdefault("rstate", np.random.default_rng(0))
    return fmin(fn, space, trials=trials, **kwargs)


def test_early_stop_fn_sees_each_finished_trial_once_in_finishing_order(store_url):
    seen = []

    def record(trials, *args):
        seen.append((trials.trials[-1]["tid"], len(trials)))
        return False, args

    trials = StoreTrials(store_url, exp_key="e")
    search(trials, max_evals=24, n_workers=2, early_stop_fn=record)
    assert len(trials) == 24
    assert seen == [(tid, n) for n, tid in enumerate(trials.history.tids.tolist(), start=1)]


def test_the_progress_bar_counts_every_finished_trial(sqlite_url):
    updates = []

    @contextmanager
    def callback(initial, total):
        class Bar:
            postfix = ""

            def update(self, n):
                updates.append(n)

        yield Bar()

    trials = StoreTrials(sqlite_url, exp_key="e")
    search(trials, max_evals=30, n_workers=2, show_progressbar=callback)
    assert sum(updates) == 30


def test_workers_go_on_after_objective_errors_with_catch_eval_exceptions(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    search(trials, fn=mostly_raises, max_evals=60, n_workers=2, catch_eval_exceptions=True)
    states = [t["state"] for t in trials.all_trials]
    assert len(states) == 60 and set(states) <= {JOB_STATE_DONE, JOB_STATE_ERROR}
    assert states.count(JOB_STATE_ERROR) > 30
    assert len(trials) == states.count(JOB_STATE_DONE) and trials.n_errors == states.count(JOB_STATE_ERROR)


def test_an_objective_error_raises_even_when_polling_slowly(sqlite_url):
    trials = StoreTrials(sqlite_url, exp_key="e")
    with pytest.raises(WorkerTrialError, match="the objective is broken"):
        search(trials, fn=always_raises, max_evals=20,
               executor=StoreExecutor(n_workers=1, poll_interval=20.0))


def test_trials_inserted_before_fmin_without_a_domain_are_run(store_url):
    trials = StoreTrials(store_url, exp_key="e")
    tids = trials.new_trial_ids(2)
    docs = trials.new_trial_docs(tids, [None, None], [{"status": "new"}] * 2,
                                 [new_misc(tid, {"x": [x]}) for tid, x in zip(tids, (0.5, -0.25))])
    trials.insert_trial_docs(docs)
    search(trials, max_evals=4, n_workers=1)
    assert [t["result"]["loss"] for t in trials][:2] == [0.25, 0.0625]
    assert all(t["state"] == JOB_STATE_DONE for t in trials)


@pytest.mark.parametrize("how", ["allow_trials_fmin=False", "Trials.fmin"])
def test_store_trials_are_always_evaluated_through_the_store(sqlite_url, how):
    trials = StoreTrials(sqlite_url, exp_key="e")
    if how == "Trials.fmin":
        trials.fmin(square, SPACE, algo=rand.suggest, max_evals=5, n_workers=1,
                    show_progressbar=False)
    else:
        search(trials, max_evals=5, n_workers=1, allow_trials_fmin=False)
    assert StoreTrials(sqlite_url, exp_key="e").count_by_state_unsynced(JOB_STATE_DONE) == 5


def test_a_search_without_workers_says_which_command_to_run(sqlite_url, caplog):
    trials = StoreTrials(sqlite_url, exp_key="lonely")
    with caplog.at_level(logging.WARNING, logger="hpo.executors.store"):
        with pytest.raises(AllTrialsFailed):  # no trial can finish: the timeout ends it empty
            search(trials, max_evals=5, timeout=1.5,
                   executor=StoreExecutor(no_worker_warning_after=0.3))
    warnings = [r.getMessage() for r in caplog.records if "no worker" in r.getMessage()]
    assert len(warnings) == 1
    assert f"hpo-worker --store sqlite:///{sqlite_url[len('sqlite:///'):]} --exp-key lonely" \
        in warnings[0]


def test_grid_exhaustion_ends_a_store_search(store_url):
    space = {"a": hp.choice("a", [1, 2, 3]), "b": hp.choice("b", ["u", "v"])}
    trials = StoreTrials(store_url, exp_key="g")
    search(trials, fn=lambda p: {"loss": p["a"], "status": STATUS_OK}, space=space,
           algo=grid.suggest, max_evals=100, n_workers=1)
    points = {(t["misc"]["vals"]["a"][0], t["misc"]["vals"]["b"][0]) for t in trials}
    assert len(trials) == 6 and len(points) == 6
