"""rand, grid and anneal: values, exhaustion, conditional spaces, resume, several ids."""

import math
from functools import partial

import numpy as np
import pytest

from hpo import Domain, Trials, anneal, fmin, grid, hp, rand
from hpo.algos.grid import Grid, param_grid
from hpo.spaces import compile_space, custom


def run(space, algo, max_evals, fn=None, trials=None, seed=0, **kwargs):
    trials = Trials() if trials is None else trials
    fmin(fn or (lambda p: 0.0), space, algo=algo, max_evals=max_evals, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False, **kwargs)
    return trials


def points(trials):
    return [tuple(sorted((k, v[0]) for k, v in t["misc"]["vals"].items() if v)) for t in trials]


# -- rand -------------------------------------------------------------------------------------


def test_rand_returns_one_document_per_id_with_prior_values():
    space = {"x": hp.uniform("x", 2, 3), "c": hp.choice("c", ["a", "b", "c"])}
    domain = Domain(lambda p: 0, space)
    docs = rand.suggest([5, 6, 7], domain, Trials(), seed=1)
    assert [d["tid"] for d in docs] == [5, 6, 7]
    assert all(2 <= d["misc"]["vals"]["x"][0] <= 3 and d["misc"]["vals"]["c"][0] in (0, 1, 2) for d in docs)
    assert docs == rand.suggest([5, 6, 7], domain, Trials(), seed=1)


# -- grid -------------------------------------------------------------------------------------


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


# -- anneal -----------------------------------------------------------------------------------


def test_anneal_accepts_several_ids_and_keeps_values_in_bounds():
    space = {"x": hp.quniform("x", 0, 10, 0.5), "l": hp.loguniform("l", -3, 3),
             "c": hp.choice("c", [0, {"n": hp.normal("n", 0, 1), "r": hp.randint("r", 2, 9)}])}
    trials = run(space, anneal.suggest, max_evals=120, max_queue_len=4,
                 fn=lambda p: p["x"] + p["l"])
    assert len(trials) == 120
    for t in trials:
        v = t["misc"]["vals"]
        assert 0 <= v["x"][0] <= 10 and v["x"][0] % 0.5 == 0
        assert math.exp(-3) <= v["l"][0] <= math.exp(3)
        if v["c"] == [1]:
            assert 2 <= v["r"][0] < 9 and isinstance(v["r"][0], int)
        else:
            assert v["n"] == [] and v["r"] == []


def test_anneal_beats_random_search_on_a_smooth_function():
    def sphere(p):
        return sum((p[f"x{i}"] - 0.5) ** 2 for i in range(4))

    space = {f"x{i}": hp.uniform(f"x{i}", -5, 5) for i in range(4)}
    anneal_best = [min(run(space, anneal.suggest, 150, sphere, seed=s).losses()) for s in range(5)]
    rand_best = [min(run(space, rand.suggest, 150, sphere, seed=s).losses()) for s in range(5)]
    assert np.median(anneal_best) < 0.5 * np.median(rand_best)


def test_anneal_is_deterministic_for_a_seed():
    space = {"x": hp.uniform("x", -1, 1), "c": hp.choice("c", ["a", "b"])}
    fn = lambda p: p["x"] ** 2  # noqa: E731
    assert points(run(space, anneal.suggest, 30, fn, seed=4)) == points(run(space, anneal.suggest, 30, fn, seed=4))
