"""TPE and anneal learn from pruned trials, ranked by their last report (Optuna's order)."""

from __future__ import annotations

import numpy as np
import pytest

from hpo import Domain, Trials, anneal, hp, tpe
from hpo.algos.common import n_observations, ranking_losses
from hpo.base import JOB_STATE_DONE, new_misc

SPACE = {"x": hp.uniform("x", -5, 5)}


def pruned_history(n=40, seed=0):
    """Only pruned trials: those near x=2 got to step 9, the others were stopped at step 1
    with a *lower* loss there -- a larger step must rank first."""
    rng = np.random.default_rng(seed)
    trials = Trials()
    for tid, x in enumerate(rng.uniform(-5, 5, n)):
        near = abs(x - 2) < 1
        step = 9 if near else 1
        loss = 1.0 + abs(x - 2) if near else 0.1
        doc, = trials.new_trial_docs([tid], [None], [{"status": "new"}],
                                     [new_misc(tid, {"x": [float(x)]})])
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"status": "pruned", "loss": loss,
                         "intermediate": [[s, loss] for s in range(1, step + 1)]}
        trials.insert_trial_doc(doc)
    trials.refresh()
    return trials


def test_pruned_trials_rank_after_complete_ones_by_step_then_loss():
    trials = Trials()
    rows = [("ok", 0.5, None), ("pruned", 0.01, 2), ("pruned", 0.3, 8), ("pruned", 0.2, 8),
            ("fail", None, None), ("ok", 0.7, None)]
    for tid, (status, loss, step) in enumerate(rows):
        doc, = trials.new_trial_docs([tid], [None], [{"status": "new"}],
                                     [new_misc(tid, {"x": [0.0]})])
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"status": status}
        if loss is not None:
            doc["result"]["loss"] = loss
        if step is not None:
            doc["result"]["intermediate"] = [[step, loss]]
        trials.insert_trial_doc(doc)
    trials.refresh()
    ranks = ranking_losses(trials.history)
    assert list(np.argsort(ranks, kind="stable")) == [0, 5, 3, 2, 1, 4]
    assert ranks[4] == np.inf and ranks[0] == 0.5 and ranks[5] == 0.7
    assert n_observations(trials.history) == 5
    assert trials.history.n_ok == 2 and trials.best_trial["tid"] == 0


@pytest.mark.parametrize("algo", [tpe.suggest, anneal.suggest], ids=["tpe", "anneal"])
def test_suggestions_move_towards_the_trials_that_got_furthest(algo):
    trials = pruned_history()
    domain = Domain(lambda p: 0.0, SPACE)
    docs = algo(list(range(100, 160)), domain, trials, 1)
    xs = np.array([d["misc"]["vals"]["x"][0] for d in docs])
    # The prior puts 20% of the draws within 1 of x=2; a model of the pruned trials most.
    near = float(np.mean(np.abs(xs - 2) < 1))
    assert near > 0.5, near


def test_without_pruned_trials_tpe_would_still_be_sampling_its_prior():
    # The same history as failures teaches TPE nothing: it stays in its startup phase.
    trials = pruned_history()
    for doc in trials:
        assert doc["result"]["status"] == "pruned"
    failed = Trials()
    for doc in trials:
        copy = dict(doc, result={"status": "fail"})
        failed.insert_trial_doc(copy)
    failed.refresh()
    domain = Domain(lambda p: 0.0, SPACE)
    xs = np.array([d["misc"]["vals"]["x"][0]
                   for d in tpe.suggest(list(range(100, 160)), domain, failed, 1)])
    assert float(np.mean(np.abs(xs - 2) < 1)) < 0.4
