"""Intermediate reports: hpo.report / ctrl.report, TrialPruned, STATUS_PRUNED, bad input."""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest

import hpo
from hpo import (
    STATUS_PRUNED,
    STATUS_STRINGS,
    TrialPruned,
    Trials,
    fmin,
    hp,
    rand,
    report,
)
from hpo.exceptions import AllTrialsFailed, InvalidFminArgument, InvalidReport
from hpo.pruners import MedianPruner, SuccessiveHalvingPruner

SPACE = hp.uniform("x", 0, 1)


def curve(x, epochs=9, stop_on_prune=True):
    """A training curve: the loss tends to x; a trial stops when told to."""
    loss = None
    for epoch in range(1, epochs + 1):
        loss = x + 1.0 / epoch
        if report(epoch, loss) and stop_on_prune:
            raise TrialPruned()
    return loss


def search(fn, pruner=None, max_evals=20, trials=None, **kwargs):
    trials = Trials() if trials is None else trials
    fmin(fn, SPACE, algo=rand.suggest, max_evals=max_evals, trials=trials, pruner=pruner,
         rstate=np.random.default_rng(0), show_progressbar=False, **kwargs)
    return trials


def search_all_pruned(fn, max_evals):
    """``search`` for objectives whose every trial is pruned: there is no best trial."""
    trials = Trials()
    with pytest.raises(AllTrialsFailed, match=f"({max_evals} were pruned)"):
        search(fn, max_evals=max_evals, trials=trials)
    return trials


def test_status_pruned_is_added_after_hyperopts_statuses():
    assert STATUS_PRUNED == "pruned"
    assert STATUS_STRINGS[:5] == ("new", "running", "suspended", "ok", "fail")
    assert STATUS_PRUNED in STATUS_STRINGS


def test_reports_are_kept_in_the_result_and_pruned_trials_keep_their_last_loss():
    trials = search(curve, SuccessiveHalvingPruner(min_resource=1, reduction_factor=3))
    pruned = [t for t in trials if t["result"]["status"] == STATUS_PRUNED]
    complete = [t for t in trials if t["result"]["status"] == "ok"]
    assert pruned and complete
    for t in trials:
        intermediate = t["result"]["intermediate"]
        steps = [step for step, _ in intermediate]
        assert steps == list(range(1, len(steps) + 1))
        assert t["state"] == hpo.JOB_STATE_DONE
    for t in pruned:
        assert t["result"]["loss"] == t["result"]["intermediate"][-1][1]
        assert len(t["result"]["intermediate"]) < 9
    assert trials.statuses().count("pruned") == len(pruned)
    assert trials.best_trial["result"]["status"] == "ok"


def test_pruned_trials_count_towards_max_evals():
    trials = search(curve, SuccessiveHalvingPruner(), max_evals=15)
    assert len(trials) == 15 and trials.statuses().count("pruned") > 0


def test_returning_status_pruned_ends_the_trial_as_pruned():
    def objective(x):
        report(0, 0.5)
        report(1, 0.25)
        return {"status": STATUS_PRUNED}

    trials = search_all_pruned(objective, max_evals=2)
    assert trials.statuses() == ["pruned", "pruned"]
    assert trials.losses() == [0.25, 0.25]
    assert trials.trials[0]["result"]["intermediate"] == [[0, 0.5], [1, 0.25]]


def test_a_pruned_result_may_give_its_own_loss_but_not_nan():
    trials = search_all_pruned(lambda x: {"status": "pruned", "loss": 3.0}, max_evals=1)
    assert trials.losses() == [3.0]
    with pytest.raises(hpo.exceptions.InvalidLoss, match="status 'pruned' with loss NaN"):
        search(lambda x: {"status": "pruned", "loss": math.nan}, max_evals=1)


def test_report_outside_fmin_checks_its_arguments_and_returns_false():
    assert report(3, 0.5) is False
    assert hpo.Ctrl(None).report(3, 0.5) is False
    assert curve(0.2) == pytest.approx(0.2 + 1 / 9)
    assert hpo.trial_budget() is None and hpo.trial_budget(default=5) == 5
    with pytest.raises(InvalidReport):
        report(1.5, 0.5)


def test_ctrl_report_works_for_objectives_that_take_ctrl():
    def objective(expr, memo, ctrl):
        for step in range(1, 6):
            if ctrl.report(step, memo["x"] + 1 / step):
                raise TrialPruned()
        return memo["x"]

    trials = Trials()
    fmin(objective, SPACE, algo=rand.suggest, max_evals=12, trials=trials,
         pass_expr_memo_ctrl=True, pruner=SuccessiveHalvingPruner(min_resource=1),
         rstate=np.random.default_rng(1), show_progressbar=False)
    assert "pruned" in trials.statuses()
    assert all(len(t["result"]["intermediate"]) >= 1 for t in trials)


def test_a_checkpoint_keeps_the_reports():
    def objective(expr, memo, ctrl):
        ctrl.report(1, 0.5)
        ctrl.checkpoint({"status": "running", "partial": True})
        assert ctrl.current_trial["result"]["intermediate"] == [[1, 0.5]]
        return 0.5

    trials = Trials()
    fmin(objective, SPACE, algo=rand.suggest, max_evals=1, trials=trials,
         pass_expr_memo_ctrl=True, show_progressbar=False)
    assert trials.trials[0]["result"]["intermediate"] == [[1, 0.5]]


def test_an_objective_that_never_reports_gets_the_same_documents_as_before():
    with_reports_api = search(lambda x: x, max_evals=5)
    assert all(set(t["result"]) == {"loss", "status"} for t in with_reports_api)
    assert all("budget" not in t["misc"] for t in with_reports_api)


def test_the_progress_bar_shows_the_pruned_trials():
    postfixes = []

    class Bar:
        postfix = ""

        def update(self, n=1):
            postfixes.append(self.postfix)

        def __setattr__(self, name, value):
            object.__setattr__(self, name, value)
            if name == "postfix":
                postfixes.append(value)

    @contextlib.contextmanager
    def progress(initial, total):
        yield Bar()

    trials = Trials()
    fmin(curve, SPACE, algo=rand.suggest, max_evals=12, trials=trials, show_progressbar=progress,
         pruner=SuccessiveHalvingPruner(), rstate=np.random.default_rng(0))
    n_pruned = trials.statuses().count("pruned")
    assert n_pruned and postfixes[-1].endswith(f"pruned: {n_pruned}")


# -- bad input, one test each ------------------------------------------------------------------

@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_is_refused(loss):
    def objective(x):
        report(1, loss)
        return x

    with pytest.raises(InvalidReport, match=r"report\(step=1, loss=.*\): loss must be finite"):
        search(objective, max_evals=1)


@pytest.mark.parametrize("step", [1.0, "2", True, None, -1])
def test_a_step_that_is_not_an_int_ge_0_is_refused(step):
    def objective(x):
        report(step, 0.5)
        return x

    with pytest.raises(InvalidReport, match=f"step must be an int >= 0.*got {step!r}"):
        search(objective, max_evals=1)


def test_a_loss_that_is_not_a_number_is_refused():
    with pytest.raises(InvalidReport, match=r"loss must be a real number, got '0.5' of type str"):
        report(1, "0.5")


@pytest.mark.parametrize("steps", [(3, 2), (2, 2)])
def test_steps_that_go_backwards_or_repeat_are_refused(steps):
    def objective(x):
        for step in steps:
            report(step, 0.5)
        return x

    with pytest.raises(InvalidReport, match=f"report\\(step={steps[1]}, loss=0.5\\): step must "
                                            f"increase.*previous report was at step {steps[0]}"):
        search(objective, max_evals=1)


def test_numpy_steps_and_losses_are_accepted():
    trials = search(lambda x: curve_np(x), max_evals=1)
    assert trials.trials[0]["result"]["intermediate"] == [[1, 0.5]]


def curve_np(x):
    report(np.int64(1), np.float32(0.5))
    return x


@pytest.mark.parametrize("pruner", ["median", MedianPruner, object()])
def test_fmin_refuses_a_pruner_that_is_not_one(pruner):
    with pytest.raises(InvalidFminArgument, match="pruner=.* is not a pruner; use one of hpo.pruners"):
        search(lambda x: x, pruner=pruner, max_evals=1)


def test_a_pruner_with_an_objective_that_never_reports_warns_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trials = search(lambda x: x, MedianPruner(), max_evals=10)
    messages = [str(w.message) for w in caught if "hpo.report" in str(w.message)]
    assert len(trials) == 10
    assert len(messages) == 1
    assert "pruner=MedianPruner(" in messages[0] and "shown once" in messages[0]


def test_an_objective_that_reports_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search(curve, MedianPruner(), max_evals=6)
