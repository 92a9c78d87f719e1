"""Trials: Hyperopt's API, attachments and the incrementally maintained history."""

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, Trials, fmin, hp, rand
from hpo.base import new_misc
from hpo.exceptions import AllTrialsFailed, InvalidTrial


def finished_doc(trials, vals, loss, status="ok", state=JOB_STATE_DONE):
    tid, = trials.new_trial_ids(1)
    doc, = trials.new_trial_docs([tid], [None], [{"status": "new"}], [new_misc(tid, vals)])
    doc["state"] = state
    doc["result"] = {"status": status} if loss is None else {"loss": loss, "status": status}
    return doc


def test_hyperopt_public_api():
    trials = Trials()
    fmin(lambda p: p["x"], {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", [0, hp.uniform("y", 0, 1)])},
         algo=rand.suggest, max_evals=15, trials=trials, show_progressbar=False,
         rstate=np.random.default_rng(0))
    assert len(trials) == 15 and len(list(trials)) == 15 and trials[0]["tid"] == 0
    assert trials.tids == list(range(15))
    assert trials.losses() == [r["loss"] for r in trials.results]
    assert trials.statuses() == ["ok"] * 15
    assert trials.best_trial["result"]["loss"] == min(trials.losses())
    assert trials.argmin["x"] == trials.best_trial["misc"]["vals"]["x"][0]
    idxs, vals = trials.idxs_vals
    assert len(vals["x"]) == 15 and len(vals["y"]) == len(idxs["y"]) == sum(v == [1] for v in (m["vals"]["c"] for m in trials.miscs))
    assert trials.count_by_state_synced(JOB_STATE_DONE) == 15
    assert trials.count_by_state_unsynced([JOB_STATE_NEW, JOB_STATE_DONE]) == 15
    assert trials.specs == [None] * 15 and trials.vals == vals and trials.idxs == idxs
    trials.delete_all()
    assert len(trials) == 0 and trials.new_trial_ids(1) == [0]


def test_inserted_documents_appear_after_refresh_and_feed_the_history():
    trials = Trials()
    trials.insert_trial_doc(finished_doc(trials, {"x": [0.5], "y": []}, 2.0))
    assert len(trials) == 0
    trials.refresh()
    trials.insert_trial_docs([finished_doc(trials, {"x": [0.1], "y": [3.0]}, 1.0),
                              finished_doc(trials, {"x": [0.9], "y": []}, None, status="fail"),
                              finished_doc(trials, {"x": [0.7], "y": []}, None, state=JOB_STATE_ERROR)])
    trials.refresh()
    h = trials.history
    assert len(h) == 4 and h.n_ok == 2
    assert np.array_equal(h.column("x"), [0.5, 0.1, 0.9, 0.7])
    assert np.array_equal(np.isnan(h.column("y")), [True, False, True, True])
    assert np.array_equal(h.ok, [True, True, False, False])
    assert h.best_tid == 1 and trials.best_trial["tid"] == 1


def test_refresh_only_looks_at_unfinished_documents():
    trials = Trials()
    pending = finished_doc(trials, {"x": [0.5]}, None, state=JOB_STATE_NEW)
    trials.insert_trial_doc(pending)
    trials.refresh()
    assert trials.unfinished_trials == [pending] and len(trials.history) == 0
    pending["state"], pending["result"] = JOB_STATE_DONE, {"loss": 0.3, "status": "ok"}
    trials.refresh()
    assert trials.unfinished_trials == [] and trials.history.best_loss == 0.3


def test_history_grows_past_its_initial_capacity():
    trials = Trials()
    for i in range(300):
        trials.insert_trial_doc(finished_doc(trials, {"x": [float(i)]}, float(300 - i)))
    trials.refresh()
    assert len(trials.history) == 300 and trials.history.column("x")[-1] == 299.0
    assert trials.argmin == {"x": 299.0}


def test_best_trial_of_no_ok_trials_raises():
    trials = Trials()
    trials.insert_trial_doc(finished_doc(trials, {"x": [0.5]}, None, status="fail"))
    trials.refresh()
    with pytest.raises(AllTrialsFailed, match="none of the 1 trials"):
        trials.best_trial


def test_trial_attachments_and_experiment_attachments():
    trials = Trials()
    doc = finished_doc(trials, {"x": [0.5]}, 1.0)
    trials.insert_trial_doc(doc)
    trials.attachments["experiment"] = b"shared"
    att = trials.trial_attachments(doc)
    att["weights"] = b"\x00\x01"
    assert "weights" in att and att["weights"] == b"\x00\x01" and att.keys() == ["weights"]
    assert trials.attachments["ATTACH::0::weights"] == b"\x00\x01"
    del att["weights"]
    assert "weights" not in att and trials.attachments == {"experiment": b"shared"}


def test_invalid_documents_are_rejected():
    trials = Trials()
    with pytest.raises(InvalidTrial, match="lacks keys"):
        trials.insert_trial_doc({"tid": 0})
    doc = finished_doc(trials, {"x": [0.5]}, 1.0)
    trials.insert_trial_doc(doc)
    with pytest.raises(InvalidTrial, match="already in these trials"):
        trials.insert_trial_doc(dict(doc))


def test_exp_key_filters_visible_trials():
    trials = Trials(exp_key="a")
    doc = finished_doc(trials, {"x": [0.5]}, 1.0)
    other = finished_doc(trials, {"x": [0.6]}, 1.0)
    other["exp_key"] = "b"
    trials.insert_trial_docs([doc, other])
    trials.refresh()
    assert trials.tids == [doc["tid"]]


def test_fmin_overhead_does_not_grow_with_history():
    """Per-trial work of rand + fmin at 1500-2000 trials is comparable to that at 0-500.

    Measured as a ratio within one run (never as absolute time), with a wide margin: a
    per-iteration rescan of all trials would make the late trials several times slower.
    """
    import time

    trials = Trials()
    space = {f"x{i}": hp.uniform(f"x{i}", 0, 1) for i in range(10)}
    marks = []

    def fn(p):
        marks.append(time.perf_counter())
        return p["x0"]

    fmin(fn, space, algo=rand.suggest, max_evals=2000, trials=trials, show_progressbar=False,
         rstate=np.random.default_rng(0))
    early = np.median(np.diff(marks[100:500]))
    late = np.median(np.diff(marks[1500:2000]))
    assert late < 3 * early
