"""Trials whose evaluation raised, as Hyperopt 0.3 shows them: left out of ``trials.trials``
and ``len(trials)``, kept in ``trials._dynamic_trials`` (and hpo's ``all_trials``), counted by
``max_evals``, and never lost by a store or a ``trials_save_file``."""

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, Trials, fmin, hp, rand
from hpo.stores.trials import StoreTrials
from hpo.trials_file import load_trials


class SomeError(Exception):
    pass


def always_raises(x):
    raise SomeError(f"no good: {x}")


def raises_below_zero(x):
    if x < 0:
        raise SomeError(f"negative: {x}")
    return x


def search(fn, **kwargs):
    kwargs.setdefault("space", hp.uniform("x", -1, 1))
    kwargs.setdefault("algo", rand.suggest)
    kwargs.setdefault("show_progressbar", False)
    kwargs.setdefault("rstate", np.random.default_rng(0))
    return fmin(fn, **kwargs)


def test_caught_errors_leave_trials_and_return_none_as_in_hyperopt():
    # Hyperopt's test_fmin.py::TestFmin::test_catch_eval_exceptions_True.
    trials = Trials()
    best = search(always_raises, space=hp.uniform("x", 0, 1), trials=trials, max_evals=2,
                  catch_eval_exceptions=True, return_argmin=False)
    assert best is None
    assert len(trials) == 0 and trials.trials == [] and trials.losses() == []
    assert len(trials._dynamic_trials) == 2
    assert [t["state"] for t in trials._dynamic_trials] == [JOB_STATE_ERROR, JOB_STATE_ERROR]
    assert all(t["misc"]["error"] is not None for t in trials._dynamic_trials)
    assert trials.all_trials == trials._dynamic_trials and trials.n_errors == 2


def test_an_error_that_stops_the_search_leaves_one_hidden_trial():
    # Hyperopt's test_catch_eval_exceptions_False.
    trials = Trials()
    with pytest.raises(SomeError):
        search(always_raises, trials=trials, max_evals=2)
    assert len(trials) == 0 and len(trials._dynamic_trials) == 1


def test_return_argmin_with_only_errors_says_how_many_raised():
    with pytest.raises(Exception, match=r"none of the 3 trials finished with status 'ok' \(3 raised\)"):
        search(always_raises, trials=Trials(), max_evals=3, catch_eval_exceptions=True)


def test_max_evals_counts_the_trials_that_raised_also_when_resumed():
    trials = Trials()
    search(raises_below_zero, trials=trials, max_evals=20, catch_eval_exceptions=True)
    assert 0 < trials.n_errors < 20 and trials.n_evaluated == len(trials.all_trials) == 20
    assert all(t["state"] == JOB_STATE_DONE for t in trials)
    search(raises_below_zero, trials=trials, max_evals=30, catch_eval_exceptions=True)
    assert trials.n_evaluated == 30  # not 30 + the earlier errors


def test_a_store_hides_error_trials_the_same_way_and_keeps_them(tmp_path):
    url = f"sqlite:///{tmp_path}/exp.db"
    trials = StoreTrials(url, exp_key="e")
    search(raises_below_zero, trials=trials, max_evals=12, catch_eval_exceptions=True,
           n_workers=1)
    assert trials.n_errors > 0 and len(trials) == 12 - trials.n_errors
    again = StoreTrials(url, exp_key="e")  # a fresh reader of the same experiment
    assert len(again) == len(trials) and again.n_errors == trials.n_errors
    assert again.count_by_state_unsynced(JOB_STATE_ERROR) == trials.n_errors


def test_a_trials_save_file_keeps_the_trials_that_raised(tmp_path):
    path = str(tmp_path / "trials.jsonl")
    trials = Trials()
    search(raises_below_zero, trials=trials, max_evals=12, catch_eval_exceptions=True,
           trials_save_file=path)
    assert trials.n_errors > 0
    loaded = load_trials(path)  # read after the journal was compacted at the end
    assert len(loaded) == len(trials) and loaded.n_errors == trials.n_errors
    assert [t["tid"] for t in loaded.all_trials] == [t["tid"] for t in trials.all_trials]


def test_trials_pickled_before_error_trials_were_hidden_load_with_nothing_lost():
    import pickle

    trials = Trials()
    search(raises_below_zero, trials=trials, max_evals=12, catch_eval_exceptions=True)
    # The record as an earlier hpo pickled it: ERROR trials inside `_trials`, no `_all`.
    old = trials.__dict__.copy()
    old["_trials"] = list(trials.all_trials)
    del old["_all"]
    legacy = Trials.__new__(Trials)
    legacy.__dict__.update(old)
    loaded = pickle.loads(pickle.dumps(legacy))
    assert loaded.n_errors == trials.n_errors > 0 and len(loaded) == len(trials)
    assert [t["tid"] for t in loaded.all_trials] == [t["tid"] for t in trials.all_trials]
