"""Hyperopt 0.3 programs after a change of imports: results, spaces, arguments and trials.

Each test states a behaviour of Hyperopt 0.3 that a program may rely on: attachments in
results, ``space="annotated"``, user-given points outside the bounds, Hyperopt's error
messages and early-stop count, reused trials of another space, and continuing a search held
in Hyperopt's trial documents.
"""

import logging
import re
import warnings

import numpy as np
import pytest

from hpo import Trials, fmin, generate_trials_to_calculate, hp, rand, tpe
from hpo.base import split_result_attachments
from hpo.early_stop import no_progress_loss
from hpo.exceptions import InvalidAnnotatedParameter, InvalidFminArgument, InvalidSpaceAssignment
from hpo.stores import DomainMismatch
from hpo.trials_file import load_trials


def search(fn, space, **kwargs):
    kwargs.setdefault("algo", rand.suggest)
    kwargs.setdefault("max_evals", 5)
    kwargs.setdefault("show_progressbar", False)
    kwargs.setdefault("rstate", np.random.default_rng(0))
    return fmin(fn, space, **kwargs)


def out_of_bounds_warnings(caught):
    return [str(w.message) for w in caught if "is outside" in str(w.message)]


# -- 1. attachments in results ------------------------------------------------------------------


def with_attachments(x):
    return {"loss": x ** 2, "status": "ok", "attachments": {"log": f"x={x:.3f}".encode()}}


def test_result_attachments_move_to_the_trial_attachments():
    trials = Trials()
    search(with_attachments, hp.uniform("x", -1, 1), trials=trials, max_evals=3)
    for trial in trials:
        assert "attachments" not in trial["result"]
        x = trial["misc"]["vals"]["x"][0]
        assert trials.trial_attachments(trial)["log"] == f"x={x:.3f}".encode()
    assert set(trials.trial_attachments(trials.trials[0]).keys()) == {"log"}


def test_result_attachments_are_saved_in_the_trials_save_file(tmp_path):
    path = str(tmp_path / "search.hpo")
    search(with_attachments, hp.uniform("x", -1, 1), max_evals=2, trials_save_file=path)
    saved = load_trials(path)
    assert [saved.trial_attachments(t)["log"][:2] for t in saved] == [b"x=", b"x="]
    assert all("attachments" not in t["result"] for t in saved)


def test_result_attachments_reach_the_store_through_the_worker(tmp_path):
    from hpo import StoreTrials

    trials = StoreTrials(f"sqlite:///{tmp_path / 'search.db'}")
    search(with_attachments, hp.uniform("x", -1, 1), trials=trials, max_evals=2, n_workers=1)
    assert len(trials) == 2
    for trial in trials:
        assert "attachments" not in trial["result"]
        x = trial["misc"]["vals"]["x"][0]
        assert trials.trial_attachments(trial)["log"] == f"x={x:.3f}".encode()


def test_split_result_attachments():
    result = {"loss": 1.0, "status": "ok", "attachments": {"a": b"1", "b": [1, 2]}}
    assert split_result_attachments(result) == (
        {"loss": 1.0, "status": "ok"}, {"a": b"1", "b": [1, 2]})
    assert "attachments" in result  # the given result is left as it was
    assert split_result_attachments({"loss": 1.0, "status": "ok"}) == (
        {"loss": 1.0, "status": "ok"}, {})
    with pytest.raises(TypeError, match=re.escape("'attachments' must be a dict")):
        split_result_attachments({"loss": 1.0, "status": "ok", "attachments": [b"1"]})


# -- 2. space="annotated" ---------------------------------------------------------------------------


def test_space_annotated_reads_the_annotations_and_passes_keywords():
    seen = []

    def objective(x: hp.uniform("x", 0, 1), n: hp.randint("n", 3)):
        seen.append((x, n))
        return x + n

    best = search(objective, "annotated", max_evals=4)
    assert set(best) == {"x", "n"} and len(seen) == 4
    assert all(0 <= x <= 1 and n in (0, 1, 2) for x, n in seen)


def test_space_annotated_with_a_plain_parameter_is_refused():
    def objective(x: hp.uniform("x", 0, 1), n):
        return x

    with pytest.raises(InvalidAnnotatedParameter, match="parameter 'n' has annotation"):
        search(objective, "annotated")


# -- 3. user-given points outside the bounds -----------------------------------------------------


def test_generate_trials_to_calculate_outside_the_bounds_is_evaluated_with_one_warning():
    trials = generate_trials_to_calculate([{"x": -100}, {"x": 50.0}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search(lambda x: x ** 2, hp.uniform("x", -5, 5), trials=trials, algo=tpe.suggest,
               max_evals=15)
    messages = out_of_bounds_warnings(caught)
    assert len(messages) == 1 and "'x'" in messages[0] and "-100" in messages[0]
    assert [t["misc"]["vals"]["x"] for t in trials.trials[:2]] == [[-100.0], [50.0]]
    assert trials.losses()[:2] == [10000.0, 2500.0]
    assert len(trials) == 15 and all(-5 <= t["misc"]["vals"]["x"][0] <= 5 for t in trials.trials[2:])


def test_points_to_evaluate_outside_the_bounds_are_evaluated():
    space = {"lr": hp.loguniform("lr", np.log(1e-3), 0), "n": hp.quniform("n", 1, 10, 1)}
    trials = Trials()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search(lambda p: p["lr"] * p["n"], space, trials=trials, max_evals=3,
               points_to_evaluate=[{"lr": 5.0, "n": 20.0}, {"lr": 0.01, "n": 12.0}])
    messages = out_of_bounds_warnings(caught)
    assert len(messages) == 2  # one per label
    assert any("'lr'" in m and "5.0" in m for m in messages)
    assert any("'n'" in m and "20.0" in m for m in messages)
    assert trials.losses()[:2] == [100.0, pytest.approx(0.12)]


@pytest.mark.parametrize("point, message", [
    ({"x": 1.0, "c": 0, "n": 1, "z": 2.0}, "labels that are not in the space: ['z']"),
    ({"c": 0, "n": 1}, "no value for the active labels ['x']"),
    ({"x": 1.0, "c": 3, "n": 1}, "'c': value 3 is outside [0, 1]"),
    ({"x": "far", "c": 0, "n": 1}, "'x': value 'far' is not a number"),
    ({"x": 1.5, "c": 0, "n": 2.5}, "'n': value 2.5 is not an integer"),
])
def test_points_that_the_space_cannot_take_are_still_refused(point, message):
    space = {"x": hp.uniform("x", -5, 5), "c": hp.choice("c", [0, 1]),
             "n": hp.randint("n", 10)}
    with pytest.raises(InvalidSpaceAssignment, match=re.escape(message)):
        search(lambda p: 0.0, space, points_to_evaluate=[point])


# -- 4. Hyperopt's words and Hyperopt's early-stop count -------------------------------------------


def test_bad_timeout_and_loss_threshold_use_hyperopt_messages():
    with pytest.raises(InvalidFminArgument, match=re.escape(
            "The timeout argument should be None or a positive value. Given value: -1")):
        search(lambda x: x, hp.uniform("x", 0, 1), timeout=-1)
    with pytest.raises(InvalidFminArgument, match=re.escape(
            "The loss_threshold argument should be None or a numeric value. Given value: abc")):
        search(lambda x: x, hp.uniform("x", 0, 1), loss_threshold="abc")


class Finished:
    def __init__(self):
        self.trials = []


def stopped_after(losses, n, percent_increase=0.0):
    stop_fn, view, args = no_progress_loss(n, percent_increase), Finished(), []
    for i, loss in enumerate(losses):
        view.trials.append({"result": {"loss": loss, "status": "ok"}})
        stop, args = stop_fn(view, *args)
        if stop:
            return i + 1
    return None


# The numbers of trials after which hyperopt.early_stop.no_progress_loss (Hyperopt 0.3.0)
# stops on the same losses.
HYPEROPT_STOPS = [
    ([1.0] * 20, 1, 0.0, 2),
    ([1.0] * 20, 5, 0.0, 5),
    ([3.0, 2.0] + [2.0] * 20, 3, 0.0, 5),
    ([5.0, 4.0, 3.0, 2.0, 1.0] + [1.0] * 20, 4, 0.0, 9),
    ([10.0, 9.5, 9.0, 8.0] + [8.0] * 20, 2, 10.0, 2),
]


@pytest.mark.parametrize("losses, n, percent, expected", HYPEROPT_STOPS)
def test_no_progress_loss_stops_when_hyperopt_does(losses, n, percent, expected):
    assert stopped_after(losses, n, percent) == expected


def test_no_progress_loss_in_fmin_stops_after_hyperopts_count():
    trials = Trials()
    search(lambda x: 1.0, hp.uniform("x", 0, 1), trials=trials, max_evals=100,
           early_stop_fn=no_progress_loss(5))
    assert len(trials) == 5


# -- 5. reused trials that do not fit the space ---------------------------------------------------


def finished_trials(fn, space, n=4):
    trials = Trials()
    search(fn, space, trials=trials, max_evals=n)
    return trials


def test_reused_trials_with_a_label_not_in_the_space_are_refused():
    trials = finished_trials(lambda p: p["x"] + p["y"],
                             {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)})
    with pytest.raises(DomainMismatch, match=r"label 'y' \(value .*\), which is not in the space"):
        search(lambda x: x, hp.uniform("x", 0, 1), trials=trials, max_evals=8)
    assert len(trials) == 4


def test_reused_trials_with_a_choice_index_the_space_lacks_are_refused():
    old = {"c": hp.choice("c", ["a", "b", "c", "d"])}
    trials = Trials()
    search(lambda p: 0.0, old, trials=trials, max_evals=4,
           points_to_evaluate=[{"c": 3}, {"c": 0}, {"c": 1}, {"c": 2}])
    with pytest.raises(DomainMismatch, match=re.escape(
            "label 'c' (value 3), but the space's option indices run from 0 to 1")):
        search(lambda p: 0.0, {"c": hp.choice("c", ["a", "b"])}, trials=trials,
               algo=tpe.suggest, max_evals=30)


def test_reused_trials_outside_changed_bounds_warn_and_the_search_goes_on():
    trials = finished_trials(lambda x: x, hp.uniform("x", 0, 10), n=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search(lambda x: x, hp.uniform("x", 0, 1), trials=trials, algo=tpe.suggest,
               max_evals=30)
    messages = out_of_bounds_warnings(caught)
    assert len(messages) == 1 and "'x'" in messages[0]
    assert len(trials) == 30


# -- 6. errors that name the argument ---------------------------------------------------------------


@pytest.mark.parametrize("trials, message", [
    (Trials, "trials=<class 'hpo.base.Trials'> is a class, not a Trials"),
    ([], "trials=[] (a list) is not a Trials"),
    ("trials.db", "trials='trials.db' (a str) is not a Trials"),
])
def test_trials_that_are_not_trials_are_refused(trials, message):
    with pytest.raises(InvalidFminArgument, match=re.escape(message)):
        search(lambda x: x, hp.uniform("x", 0, 1), trials=trials)


def test_early_stop_fn_returning_a_bool_is_refused():
    with pytest.raises(InvalidFminArgument, match=re.escape(
            "returned False; expected a pair (stop, args)")):
        search(lambda x: x, hp.uniform("x", 0, 1), early_stop_fn=lambda trials: False)


# -- 7. continuing a search held in Hyperopt's trial documents ---------------------------------------


def hyperopt_doc(tid, x, c, loss):
    """A finished trial as ``hyperopt.Trials().trials`` holds it (numpy scalars included)."""
    return {
        "state": 2, "tid": tid, "spec": None, "result": {"loss": loss, "status": "ok"},
        "misc": {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"), "workdir": None,
                 "idxs": {"c": [np.int64(tid)], "x": [np.int64(tid)]},
                 "vals": {"c": [np.int64(c)], "x": [np.float64(x)]}},
        "exp_key": None, "owner": None, "version": 0, "book_time": None, "refresh_time": None,
    }


class HyperoptTrials:
    """The part of ``hyperopt.Trials`` that fmin reads: its documents and attachments."""

    def __init__(self, docs):
        self.trials = docs
        self.attachments = {"ATTACH::0::note": b"from hyperopt"}


def test_a_hyperopt_trials_is_continued(caplog):
    old = HyperoptTrials([hyperopt_doc(0, 0.5, 1, 0.25), hyperopt_doc(1, -0.1, 0, 0.01),
                          hyperopt_doc(2, 3.0, 1, 9.0)])
    space = {"x": hp.uniform("x", -5, 5), "c": hp.choice("c", ["a", "b"])}
    seen = []

    def objective(p):
        seen.append(p)
        return p["x"] ** 2 + 1.0

    with caplog.at_level(logging.WARNING, logger="hpo.fmin"):
        best = search(objective, space, trials=old, max_evals=7)
    assert len(seen) == 4  # max_evals counts the three trials already there
    assert best == {"x": -0.1, "c": 0} and type(best["c"]) is int
    copied = [r for r in caplog.records if "copied into an hpo Trials" in r.getMessage()]
    assert len(copied) == 1 and "3 trials" in copied[0].getMessage()
    assert len(old.trials) == 3 and type(old.trials[0]["misc"]["vals"]["c"][0]) is np.int64


def test_a_hyperopt_trials_with_a_bad_document_is_refused():
    old = HyperoptTrials([{"tid": 0, "state": 2, "result": {}}])
    with pytest.raises(InvalidFminArgument, match=re.escape(
            "trials.trials[0] = {'tid': 0, 'state': 2, 'result': {}} is not a trial document")):
        search(lambda x: x, hp.uniform("x", 0, 1), trials=old)
