"""Grid search: the grid's values, conditional and shared parameters, shuffled orders, resuming
with any order, exhaustion, and the per-call cost."""

import itertools
import math
import pickle
import time
from functools import partial

import numpy as np
import pytest

from hpo import JOB_STATE_DONE, STATUS_OK, Domain, Trials, grid, hp, space_eval
from hpo.algos.grid import SHUFFLE_SEED_KEY, Grid, param_grid
from hpo.spaces import compile_space, custom

from history_fixtures import finished_trials, points, run


def test_param_grid_is_evenly_spaced_in_each_parameter_scale():
    spec = lambda node: compile_space(node).params[0]  # noqa: E731
    assert param_grid(spec(hp.uniform("u", 0, 1)), 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    logs = param_grid(spec(hp.loguniform("l", math.log(1e-4), 0)), 5)
    assert np.allclose(logs, [1e-4, 1e-3, 1e-2, 1e-1, 1])
    assert param_grid(spec(hp.quniform("q", 0, 10, 3)), 5) == [0.0, 3.0, 6.0, 9.0]
    assert param_grid(spec(hp.randint("r", 3)), 5) == [0.0, 1.0, 2.0]
    assert param_grid(spec(hp.randint("r", 100)), 5) == [0.0, 25.0, 50.0, 74.0, 99.0]
    assert param_grid(spec(hp.normal("n", 0, 1)), 3) == [-2.0, 0.0, 2.0]
    assert param_grid(spec(hp.choice("c", list("abcd"))), 2) == [0.0, 1.0, 2.0, 3.0]


def conditional_space():
    return {
        "opt": hp.choice("opt", [
            {"name": "sgd", "lr": hp.loguniform("sgd_lr", -5, 0), "m": hp.choice("m", [0.0, 0.9])},
            {"name": "adam", "lr": hp.loguniform("adam_lr", -5, 0)},
        ]),
        "units": hp.quniform("units", 16, 64, 16),
    }


def test_grid_enumerates_conditional_parameters_only_in_their_branch():
    g = Grid(conditional_space(), grid_points=3)
    # linspace(16, 64, 3) = 16, 40, 64, snapped to the q-grid of 16 (40 rounds half to even)
    assert param_grid(compile_space(conditional_space()).param("units"), 3) == [16.0, 32.0, 64.0]
    # (sgd: 3 lr * 2 momenta + adam: 3 lr) * 3 units
    assert len(g) == (3 * 2 + 3) * 3


def test_grid_search_covers_every_point_once_and_stops_when_exhausted():
    trials = run(conditional_space(), partial(grid.suggest, grid_points=3), max_evals=1000)
    assert len(trials) == len(Grid(conditional_space(), grid_points=3)) < 1000
    assert len(set(points(trials))) == len(trials)
    for t in trials:
        vals = t["misc"]["vals"]
        assert (vals["m"] == []) == (vals["opt"] == [1])
        assert (vals["adam_lr"] == []) == (vals["opt"] == [0])


def test_grid_resume_never_repeats_a_point():
    space = conditional_space()
    algo = partial(grid.suggest, grid_points=3)
    trials = run(space, algo, max_evals=10)
    trials = run(space, algo, max_evals=20, trials=trials, seed=1)
    trials = run(space, algo, max_evals=1000, trials=trials, seed=2)
    assert len(trials) == len(Grid(space, grid_points=3))
    assert len(set(points(trials))) == len(trials)


def test_grid_skips_points_already_evaluated_from_points_to_evaluate():
    space = {"c": hp.choice("c", [1, 2, 3])}
    trials = run(space, grid.suggest, max_evals=100, points_to_evaluate=[{"c": 1}])
    assert sorted(points(trials)) == [(("c", 0),), (("c", 1),), (("c", 2),)]


def test_grid_shuffle_is_seeded_and_still_exhaustive():
    space = {"a": hp.uniform("a", 0, 1), "b": hp.choice("b", [0, 1, 2])}
    ordered = points(run(space, grid.suggest, max_evals=100))
    shuffled = points(run(space, partial(grid.suggest, shuffle=3), max_evals=100))
    again = points(run(space, partial(grid.suggest, shuffle=3), max_evals=100, seed=9))
    assert shuffled == again and shuffled != ordered and sorted(shuffled) == sorted(ordered)


def test_grid_with_several_ids_at_once():
    space = {"a": hp.uniform("a", 0, 1)}
    trials = run(space, grid.suggest, max_evals=100, max_queue_len=4)
    assert sorted(points(trials)) == [(("a", v),) for v in (0.0, 0.25, 0.5, 0.75, 1.0)]


def test_grid_rejects_object_parameters_and_bad_grid_points():
    class Prior:
        def sample(self, rng):
            return 1

    with pytest.raises(ValueError, match="cannot enumerate 'o'"):
        run({"o": custom("o", Prior())}, grid.suggest, max_evals=3)
    with pytest.raises(ValueError, match="grid_points must be an int >= 1, got 0"):
        run({"a": hp.uniform("a", 0, 1)}, partial(grid.suggest, grid_points=0), max_evals=3)


# -- shuffled orders and resuming -------------------------------------------------------------


def small_space():
    # 5 values of a times 3 options of b: 15 points.
    return {"a": hp.uniform("a", 0, 1), "b": hp.choice("b", [0, 1, 2])}


def test_shuffle_true_keeps_its_seed_in_the_attachments_and_a_resume_keeps_the_order():
    algo = partial(grid.suggest, shuffle=True)
    whole = run(small_space(), algo, max_evals=100)
    seed = whole.attachments[SHUFFLE_SEED_KEY]
    assert isinstance(seed, int)
    # The same first rstate draws the same seed; the resumed part runs under another rstate,
    # yet follows the stored order.
    resumed = run(small_space(), algo, max_evals=6)
    resumed = run(small_space(), algo, max_evals=100, trials=resumed, seed=5)
    assert resumed.attachments[SHUFFLE_SEED_KEY] == seed
    assert points(resumed) == points(whole)
    in_order = points(run(small_space(), grid.suggest, max_evals=100))
    assert len(points(whole)) == 15 and points(whole) != in_order
    assert sorted(points(whole)) == sorted(in_order)
    # Another first seed, another order.
    assert points(run(small_space(), algo, max_evals=100, seed=1)) != points(whole)


@pytest.mark.parametrize("first, second", [(3, 4), (None, 7), (5, None), (3, True)])
def test_a_resume_with_another_order_never_repeats_a_point(first, second):
    trials = run(small_space(), partial(grid.suggest, shuffle=first), max_evals=7)
    trials = run(small_space(), partial(grid.suggest, shuffle=second), max_evals=100,
                 trials=trials, seed=1)
    assert len(points(trials)) == 15 == len(set(points(trials)))


def test_a_resume_skips_points_given_by_hand_even_when_computed_differently():
    # 0.1 typed by the user and the grid's exp(linspace(log(1e-3), log(10), 5))[1] differ in
    # the last bits; they are the same point.
    space = {"lr": hp.loguniform("lr", math.log(1e-3), math.log(10))}
    trials = run(space, grid.suggest, max_evals=100, points_to_evaluate=[{"lr": 0.1}, {"lr": 0.3}])
    lrs = sorted(t["misc"]["vals"]["lr"][0] for t in trials)
    assert len(lrs) == 6 and np.allclose(lrs, [1e-3, 1e-2, 0.1, 0.3, 1.0, 10.0])


def test_suggest_returns_nothing_once_every_point_is_proposed_even_if_none_finished():
    domain = Domain(lambda p: 0.0, small_space())
    trials = Trials()
    docs = grid.suggest(list(range(20)), domain, trials, seed=0, shuffle=2)
    assert len(docs) == 15 and len(set(points(docs))) == 15
    trials.insert_trial_docs(docs)
    trials.refresh()
    assert len(trials.unfinished_trials) == 15
    assert grid.suggest([20], domain, trials, seed=0) == []
    assert grid.suggest([20], domain, trials, seed=0, shuffle=9) == []


def test_a_point_whose_trial_was_cancelled_is_proposed_again_at_the_end():
    domain = Domain(lambda p: 0.0, {"c": hp.choice("c", list("abcd"))})
    trials = Trials()
    first = grid.suggest([0, 1], domain, trials, seed=0)
    trials.insert_trial_docs(first)
    trials.refresh()
    trials.forget_unfinished([1])  # the trial of c = 1 never ran
    rest = grid.suggest([2, 3, 4], domain, trials, seed=0)
    assert [d["misc"]["vals"]["c"] for d in rest] == [[2], [3], [1]]


def test_shuffle_must_be_a_seed_or_a_flag():
    domain = Domain(lambda p: 0.0, small_space())
    for bad in ("yes", -1, 0.5):
        with pytest.raises(ValueError, match=f"shuffle must be None, True, False or an int seed >= 0, got {bad!r}"):
            grid.suggest([0], domain, Trials(), seed=0, shuffle=bad)


# -- shared parameters ------------------------------------------------------------------------


def test_a_parameter_shared_by_two_choices_gets_every_grid_value_under_each():
    lr = hp.uniform("lr", 0, 1)
    space = {"a": hp.choice("a", [{"lr": lr}, 0]),
             "c": hp.choice("c", [0, {"b": hp.choice("b", [{"lr": lr}, 1])}])}
    trials = run(space, partial(grid.suggest, grid_points=3), max_evals=100)
    # a = 0 (lr active): 3 lr x (c = 0; c = 1, b = 0; c = 1, b = 1) = 9 points;
    # a = 1: c = 0 -> 1 point, c = 1, b = 0 -> 3 (lr active again), c = 1, b = 1 -> 1.
    assert len(trials) == 14 == len(set(points(trials)))
    lrs_under_b = {t["misc"]["vals"]["lr"][0] for t in trials
                   if t["misc"]["vals"]["a"] == [1] and t["misc"]["vals"]["b"] == [0]}
    assert lrs_under_b == {0.0, 0.5, 1.0}
    for t in trials:
        space_eval(space, t["misc"]["vals"])


# -- cost per call ----------------------------------------------------------------------------


def _grid_trials(n_finished):
    """A space of 100 x 100 grid points and trials holding its first ``n_finished``."""
    space = {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)}
    values = np.linspace(0, 1, 100)
    done = [({"x": [float(values[i % 100])], "y": [float(values[i // 100])]}, 0.0)
            for i in range(n_finished)]
    return Domain(lambda p: 0.0, space), finished_trials(done)


def _timed_step(domain, trials):
    """Seconds taken by one suggestion; its trial is then recorded as finished (not timed)."""
    ids = trials.new_trial_ids(1)
    start = time.perf_counter()
    docs = grid.suggest(ids, domain, trials, seed=0, grid_points=100)
    elapsed = time.perf_counter() - start
    for doc in docs:
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"loss": 0.0, "status": STATUS_OK}
    trials.insert_trial_docs(docs)
    trials.refresh()
    return elapsed


def test_a_call_costs_the_same_after_200_or_5000_trials():
    # Times of the two histories are taken alternately, in the same run, so that the machine's
    # load affects both alike; only their ratio is checked. Reading all trials per call made
    # the larger history about 25 times slower here.
    small, large = _grid_trials(200), _grid_trials(5000)
    _timed_step(*small), _timed_step(*large)  # the first call reads the history once
    times = {"small": [], "large": []}
    for _ in range(60):
        times["small"].append(_timed_step(*small))
        times["large"].append(_timed_step(*large))
    assert np.median(times["large"]) < 3 * np.median(times["small"])
    assert len(set(points(large[1]))) == 5061


def test_the_grid_of_a_space_with_shared_nodes_holds_every_distinct_point():
    # The expectation, computed without the grid's tree: every combination of every
    # parameter's grid values, with inactive parameters blanked by the compiled space.
    lr = hp.loguniform("lr", -4, 0)
    inner = hp.choice("inner", [{"lr": lr, "k": hp.randint("k", 3)}, "none"])
    space = {"x": hp.choice("x", ["off", inner]),
             "y": hp.choice("y", [{"deep": hp.choice("d", [inner, lr * 2])}, "off"]),
             "z": hp.choice("z", ["off", [lr]])}
    compiled = compile_space(space)
    values = [param_grid(spec, 2) for spec in compiled.params]
    product = np.array(list(itertools.product(*values)))
    expected = {tuple(np.nan_to_num(row, nan=-1.0)) for row in compiled.activate(product)}
    g = Grid(space, grid_points=2)
    rows = {tuple(np.nan_to_num(g.row(i), nan=-1.0)) for i in range(len(g))}
    assert rows == expected and len(expected) == 52
    trials = run(space, partial(grid.suggest, grid_points=2), max_evals=1000)
    assert len(trials) == 52 == len(set(points(trials)))


def _zero(params):
    return 0.0


def test_a_domain_that_ran_grid_search_can_still_be_pickled():
    # Domains are pickled to be sent to workers; the grid's cache of visited points goes
    # along empty and is rebuilt from the trials.
    domain = Domain(_zero, small_space())
    trials = Trials()
    trials.insert_trial_docs(grid.suggest([0, 1, 2], domain, trials, seed=0))
    trials.refresh()
    copy = pickle.loads(pickle.dumps(domain))
    docs = grid.suggest([3, 4], copy, trials, seed=0)
    assert len(set(points(trials)) | set(points(docs))) == 5
