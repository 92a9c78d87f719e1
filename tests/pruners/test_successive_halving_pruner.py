"""SuccessiveHalvingPruner (ASHA): rungs, promotion rule, asynchrony, arguments."""

from __future__ import annotations

import pytest

from hpo.pruners import ASHAPruner, InvalidPrunerArgument, SuccessiveHalvingPruner
from hpo.reports import ReportBoard


def test_rungs_grow_by_the_reduction_factor_from_the_early_stopping_rate():
    assert list(SuccessiveHalvingPruner(min_resource=2, reduction_factor=3).rungs(up_to=60)) \
        == [2, 6, 18, 54]
    assert list(SuccessiveHalvingPruner(1, 3, min_early_stopping_rate=1, max_resource=27)
                .rungs()) == [3, 9]
    assert ASHAPruner is SuccessiveHalvingPruner


def test_the_first_trial_at_a_rung_goes_on_without_waiting_for_others():
    # Asynchronous: nobody else reached the rung, and no one is waited for.
    board = ReportBoard()
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    board.add(0, 1, 100.0)
    assert not pruner.should_prune(board, 0, 1)
    board.add(0, 3, 100.0)
    assert not pruner.should_prune(board, 0, 3)


def test_a_trial_is_compared_with_every_trial_that_reached_the_rung_running_or_not():
    board = ReportBoard()
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    board.add(0, 1, 0.3)
    board.finish(0, "ok", 0.3)
    board.add(1, 1, 0.1)             # still running
    board.add(2, 1, 0.5)
    board.finish(2, "pruned", 0.5)
    # 4 trials at rung 1 with reduction factor 2: the best 2 go on.
    board.add(3, 1, 0.2)
    assert not pruner.should_prune(board, 3, 1)
    board.add(4, 1, 0.35)
    assert pruner.should_prune(board, 4, 1)   # 5 trials: the 2nd best is 0.2


def test_the_rung_value_is_the_first_report_at_or_after_the_rung():
    board = ReportBoard()
    pruner = SuccessiveHalvingPruner(min_resource=4, reduction_factor=2)
    board.add(0, 2, 9.0)
    board.add(0, 5, 0.1)      # reports only every few steps: rung 4 records 0.1
    board.add(0, 9, 0.05)     # rung 8: 0.05
    board.add(1, 4, 0.2)
    assert pruner.should_prune(board, 1, 4)
    assert board.reached(4) == {0: 0.1, 1: 0.2}
    assert board.reached(8) == {0: 0.05}


def test_a_report_that_jumps_over_several_rungs_is_judged_at_each():
    board = ReportBoard()
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    for tid, loss in ((0, 0.1), (1, 0.2)):
        board.add(tid, 1, loss)
        board.add(tid, 2, loss)
    board.add(2, 1, 0.05)         # the best at rung 1
    assert not pruner.should_prune(board, 2, 1)
    board.add(2, 2, 0.9)          # rung 2 reached at once: worst of three
    assert pruner.decides_at(1, 2)
    assert pruner.should_prune(board, 2, 2)


def test_steps_between_rungs_need_no_decision():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    decided = [step for step in range(1, 30) if pruner.decides_at(step - 1, step)]
    assert decided == [1, 3, 9, 27]
    assert not pruner.decides_at(None, 0)


def test_no_rung_at_or_above_max_resource():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, max_resource=9)
    board = ReportBoard()
    board.add(0, 9, 0.0)
    board.add(1, 1, 0.0)
    board.add(1, 3, 0.0)
    board.add(1, 9, 5.0)   # worse than trial 0 at 9, but 9 is the end, not a rung
    assert not pruner.decides_at(3, 9)
    assert not pruner.should_prune(board, 1, 9)


@pytest.mark.parametrize("kwargs, message", [
    ({"reduction_factor": 1}, ("SuccessiveHalvingPruner(reduction_factor=1): reduction_factor "
                               "must be a number > 1 (each rung keeps 1/reduction_factor of the "
                               "trials that reach it), e.g. 3")),
    ({"reduction_factor": 0.5}, "reduction_factor must be a number > 1"),
    ({"reduction_factor": float("inf")}, "reduction_factor must be a number > 1"),
    ({"min_resource": 0}, "SuccessiveHalvingPruner(min_resource=0): min_resource must be an int >= 1"),
    ({"min_resource": -3}, "min_resource must be an int >= 1"),
    ({"min_resource": 1.0}, "min_resource must be an int >= 1"),
    ({"min_early_stopping_rate": -1}, "min_early_stopping_rate must be an int >= 0"),
    ({"min_resource": 3, "max_resource": 2},
     ("SuccessiveHalvingPruner(max_resource=2): max_resource must be at least the first rung's "
      "resource 3")),
])
def test_impossible_arguments_are_refused_naming_them(kwargs, message):
    with pytest.raises(InvalidPrunerArgument) as info:
        SuccessiveHalvingPruner(**kwargs)
    assert message in str(info.value)
