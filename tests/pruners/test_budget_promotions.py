"""Budget-driven searches: hpo.trial_budget(), budgets granted by rung, promotions."""

from __future__ import annotations

import numpy as np
import pytest

from hpo import Trials, fmin, hp, rand, tpe, trial_budget
from hpo.pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner
from hpo.reports import ReportBoard

SPACE = {"x": hp.uniform("x", 0, 1)}


def by_budget(params):
    budget = trial_budget()
    return {"loss": params["x"] + 1.0 / budget, "status": "ok", "seen": budget}


def finished_rung(board, budget, losses, first_tid=0):
    for i, loss in enumerate(losses):
        board.finish(first_tid + i, "ok", loss=loss, budget=budget)


def test_the_best_third_of_a_rung_is_promoted_once_highest_rung_first():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, max_resource=9)
    board = ReportBoard()
    finished_rung(board, 1, [0.6, 0.1, 0.5, 0.2, 0.9, 0.3])       # tids 0-5: best two 1, 3
    finished_rung(board, 3, [0.4, 0.05, 0.3], first_tid=10)         # tids 10-12: best one 11
    assert pruner.promotions(board, 5) == [
        {"budget": 9, "promoted_from": 11}, {"budget": 3, "promoted_from": 1},
        {"budget": 3, "promoted_from": 3}]
    assert pruner.promotions(board, 1) == [{"budget": 9, "promoted_from": 11}]
    board.promoted.update({11, 1})
    assert pruner.promotions(board, 5) == [{"budget": 3, "promoted_from": 3}]


def test_nothing_is_promoted_past_max_resource_or_from_a_small_rung():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, max_resource=9)
    board = ReportBoard()
    finished_rung(board, 9, [0.1, 0.2, 0.3, 0.4])
    finished_rung(board, 1, [0.1, 0.2], first_tid=10)   # fewer than 3: no top third yet
    assert pruner.promotions(board, 5) == []


def test_budgets_in_a_search_start_at_the_first_rung_and_promotions_copy_the_configuration():
    trials = Trials()
    fmin(by_budget, SPACE, algo=rand.suggest, max_evals=40, trials=trials,
         pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, max_resource=9),
         rstate=np.random.default_rng(0), show_progressbar=False)
    by_tid = {t["tid"]: t for t in trials}
    fresh = [t for t in trials if "promoted_from" not in t["misc"]]
    promoted = [t for t in trials if "promoted_from" in t["misc"]]
    assert {t["misc"]["budget"] for t in fresh} == {1}
    assert {t["misc"]["budget"] for t in promoted} == {3, 9}
    for t in trials:
        assert t["result"]["seen"] == t["result"]["budget"] == t["misc"]["budget"]
    for t in promoted:
        source = by_tid[t["misc"]["promoted_from"]]
        assert t["misc"]["vals"] == source["misc"]["vals"]
        assert t["misc"]["budget"] == 3 * source["misc"]["budget"]
        # The source was among the best third of its rung when the copy was queued.
        rung = [u["result"]["loss"] for u in trials if u["tid"] < t["tid"]
                and u["misc"]["budget"] == source["misc"]["budget"]]
        assert sorted(rung).index(source["result"]["loss"]) < max(1, len(rung) // 3)
    assert len({t["misc"]["promoted_from"] for t in promoted}) == len(promoted)


def test_hyperband_grants_each_bracket_its_first_rung_and_promotes_within_it():
    pruner = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    trials = Trials()
    fmin(by_budget, SPACE, algo=rand.suggest, max_evals=60, trials=trials, pruner=pruner,
         rstate=np.random.default_rng(0), show_progressbar=False)
    by_tid = {t["tid"]: t for t in trials}
    for t in trials:
        if "promoted_from" in t["misc"]:
            assert t["misc"]["bracket"] == by_tid[t["misc"]["promoted_from"]]["misc"]["bracket"]
        else:
            s = t["misc"]["bracket"]
            assert s == pruner.bracket_of(t["tid"])
            assert t["misc"]["budget"] == [1, 3, 9][s]
    assert any("promoted_from" in t["misc"] for t in trials)


def test_an_objective_that_does_not_read_its_budget_is_never_promoted():
    trials = Trials()
    with pytest.warns(UserWarning, match="without calling hpo.report"):
        fmin(lambda x: x, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=20,
             trials=trials, pruner=SuccessiveHalvingPruner(max_resource=9),
             rstate=np.random.default_rng(0), show_progressbar=False)
    assert not any("promoted_from" in t["misc"] for t in trials)
    assert all("budget" not in t["result"] for t in trials)


def test_a_pruner_without_budgets_gives_the_default():
    trials = Trials()
    seen = []

    def objective(x):
        seen.append(trial_budget(default=7))
        return x

    with pytest.warns(UserWarning, match="without calling hpo.report"):
        fmin(objective, hp.uniform("x", 0, 1), algo=rand.suggest, max_evals=2, trials=trials,
             pruner=MedianPruner(), show_progressbar=False)
    assert seen == [7, 7]
    assert all("budget" not in t["result"] for t in trials)


def test_tpe_ranks_budget_trials_by_budget_then_loss():
    trials = Trials()
    fmin(by_budget, SPACE, algo=tpe.suggest, max_evals=40, trials=trials,
         pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, max_resource=9),
         rstate=np.random.default_rng(0), show_progressbar=False)
    from hpo.algos.common import ranking_losses

    ranks = ranking_losses(trials.history)
    order = [int(trials.history.tids[i]) for i in np.argsort(ranks)]
    budgets = [trials.trial_by_tid(t)["result"]["budget"] for t in order]
    assert budgets == sorted(budgets, reverse=True)
