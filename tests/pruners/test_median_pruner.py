"""MedianPruner: the decision rule, its settings, and its arguments."""

from __future__ import annotations

import pytest

from hpo.pruners import InvalidPrunerArgument, MedianPruner
from hpo.reports import ReportBoard


def completed_board(curves):
    """A board with one completed trial per curve (``{step: loss}``), tids 0, 1, ..."""
    board = ReportBoard()
    for tid, curve in enumerate(curves):
        for step, loss in sorted(curve.items()):
            board.add(tid, step, loss)
        board.finish(tid, "ok", loss=min(curve.values()))
    return board


def test_a_trial_worse_than_the_median_at_its_step_is_pruned_a_better_one_is_not():
    board = completed_board([{1: 0.2}, {1: 0.4}, {1: 0.6}, {1: 0.8}])  # median 0.5
    pruner = MedianPruner(n_startup_trials=4)
    board.add(10, 1, 0.55)
    board.add(11, 1, 0.45)
    assert pruner.should_prune(board, 10, 1)
    assert not pruner.should_prune(board, 11, 1)


def test_the_trial_is_judged_by_its_best_report_so_far():
    board = completed_board([{1: 0.5, 2: 0.5}, {1: 0.5, 2: 0.5}])
    board.add(7, 1, 0.1)
    board.add(7, 2, 0.9)  # worse now, but its best (0.1) beats the median
    assert not MedianPruner(n_startup_trials=2).should_prune(board, 7, 2)


def test_only_completed_trials_count_not_running_or_pruned_ones():
    board = completed_board([{3: 1.0}])
    board.add(5, 3, 0.0)             # running
    board.add(6, 3, 0.0)
    board.finish(6, "pruned", 0.0)   # pruned
    board.add(7, 3, 0.5)
    assert not MedianPruner(n_startup_trials=1).should_prune(board, 7, 3)  # median is 1.0


def test_no_decision_before_n_startup_trials_completed():
    board = completed_board([{1: 0.1}, {1: 0.1}])
    board.add(9, 1, 5.0)
    assert not MedianPruner(n_startup_trials=3).should_prune(board, 9, 1)
    assert MedianPruner(n_startup_trials=2).should_prune(board, 9, 1)


def test_no_decision_during_warmup_or_between_intervals():
    board = completed_board([{s: 0.1 for s in range(10)}])
    for step in range(10):
        board.add(9, step, 5.0)
    pruner = MedianPruner(n_startup_trials=1, n_warmup_steps=4, interval=3)
    decided = [step for step in range(10) if pruner.should_prune(board, 9, step)]
    assert decided == [4, 7]
    assert [s for s in range(10) if pruner.decides_at(None, s)] == [4, 7]


def test_no_decision_with_fewer_than_n_min_trials_at_the_step():
    board = completed_board([{1: 0.1}, {2: 0.1}])
    board.add(9, 1, 5.0)
    assert not MedianPruner(n_startup_trials=1, n_min_trials=2).should_prune(board, 9, 1)
    assert MedianPruner(n_startup_trials=1, n_min_trials=1).should_prune(board, 9, 1)


def test_a_step_no_completed_trial_reported_prunes_nothing():
    board = completed_board([{2: 0.1}])
    board.add(9, 1, 5.0)
    assert not MedianPruner(n_startup_trials=1).should_prune(board, 9, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_startup_trials": -1}, "MedianPruner(n_startup_trials=-1): n_startup_trials must be an int >= 0"),
    ({"n_warmup_steps": 1.5}, "MedianPruner(n_warmup_steps=1.5): n_warmup_steps must be an int >= 0"),
    ({"interval": 0}, "MedianPruner(interval=0): interval must be an int >= 1"),
    ({"n_min_trials": 0}, "MedianPruner(n_min_trials=0): n_min_trials must be an int >= 1"),
    ({"interval": True}, "MedianPruner(interval=True): interval must be an int >= 1"),
])
def test_impossible_arguments_are_refused_naming_them(kwargs, message):
    with pytest.raises(InvalidPrunerArgument) as info:
        MedianPruner(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)
