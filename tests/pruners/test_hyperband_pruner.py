"""HyperbandPruner: brackets, their proportions, competition within a bracket, arguments."""

from __future__ import annotations

import collections

import pytest

from hpo.pruners import HyperbandPruner, InvalidPrunerArgument
from hpo.reports import ReportBoard


def test_brackets_span_min_to_max_resource():
    pruner = HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3)
    assert pruner.n_brackets == 5
    assert [list(b.rungs()) for b in pruner.brackets] == [
        [1, 3, 9, 27], [3, 9, 27], [9, 27], [27], []]
    assert HyperbandPruner(min_resource=2, max_resource=17, reduction_factor=2).n_brackets == 4


def test_trials_spread_over_brackets_in_hyperbands_proportions():
    pruner = HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    counts = collections.Counter(pruner.bracket_of(tid) for tid in range(4900))
    # Hyperband's configurations per bracket: 27, 12, 6, 4 (of 49).
    for bracket, expected in enumerate([27, 12, 6, 4]):
        assert abs(counts[bracket] / 4900 - expected / 49) < 0.02
    assert [pruner.bracket_of(t) for t in range(50)] == [pruner.bracket_of(t) for t in range(50)]


def test_a_trial_competes_only_with_trials_of_its_own_bracket():
    pruner = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    tids = collections.defaultdict(list)
    for tid in range(200):
        tids[pruner.bracket_of(tid)].append(tid)
    board = ReportBoard()
    # Bracket 1 (first rung at 3): two excellent trials there.
    a, b, mine = tids[1][:3]
    board.add(a, 3, 0.01)
    board.add(b, 3, 0.02)
    # Bracket 0 (first rung at 1, then 3): many poor trials at rung 3.
    for tid in tids[0][:6]:
        board.add(tid, 3, 5.0)
    board.add(mine, 3, 1.0)
    assert pruner.should_prune(board, mine, 3)       # third of three in bracket 1
    other = tids[0][6]
    board.add(other, 1, 1.0)
    board.add(other, 3, 1.0)
    assert not pruner.should_prune(board, other, 3)  # the best of bracket 0


def test_the_last_bracket_never_prunes():
    pruner = HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    last = next(t for t in range(100) if pruner.bracket_of(t) == pruner.n_brackets - 1)
    board = ReportBoard()
    for tid in range(100, 110):
        board.add(tid, 1, 0.0)
    for step in range(1, 10):
        board.add(last, step, 99.0)
        assert not pruner.should_prune(board, last, step)


@pytest.mark.parametrize("kwargs, message", [
    ({"reduction_factor": 1}, ("HyperbandPruner(reduction_factor=1): reduction_factor must be "
                               "a number > 1")),
    ({"min_resource": 0}, "HyperbandPruner(min_resource=0): min_resource must be an int >= 1"),
    ({"max_resource": 0}, "HyperbandPruner(max_resource=0): max_resource must be an int >= 1"),
    ({"min_resource": 9, "max_resource": 9},
     ("HyperbandPruner(min_resource=9, max_resource=9): max_resource must be larger than "
      "min_resource")),
])
def test_impossible_arguments_are_refused_naming_them(kwargs, message):
    with pytest.raises(InvalidPrunerArgument) as info:
        HyperbandPruner(**kwargs)
    assert message in str(info.value)
