"""rand and anneal: values, conditional spaces, several ids, determinism; all algorithms on
spaces whose nodes are shared."""

import math
from functools import partial

import numpy as np
import pytest
import scipy.stats

from hpo import Domain, Trials, anneal, grid, hp, rand, space_eval, tpe

from history_fixtures import finished_trials, points, run
from space_support import RecordingVals


# -- rand -------------------------------------------------------------------------------------


def test_rand_returns_one_document_per_id_with_prior_values():
    space = {"x": hp.uniform("x", 2, 3), "c": hp.choice("c", ["a", "b", "c"])}
    domain = Domain(lambda p: 0, space)
    docs = rand.suggest([5, 6, 7], domain, Trials(), seed=1)
    assert [d["tid"] for d in docs] == [5, 6, 7]
    assert all(2 <= d["misc"]["vals"]["x"][0] <= 3 and d["misc"]["vals"]["c"][0] in (0, 1, 2) for d in docs)
    assert docs == rand.suggest([5, 6, 7], domain, Trials(), seed=1)


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


def test_anneal_without_shrinking_draws_uniformint_values_uniformly():
    # With shrink_coef=0 the neighbourhood is the whole prior: every value of a uniformint is
    # equally likely wherever the model trial is.
    space = {"n": hp.uniformint("n", 0, 3)}
    domain = Domain(lambda p: 0.0, space)
    trials = finished_trials([({"n": [n]}, float(n)) for n in (0, 1, 3)])
    docs = [anneal.suggest([10 + i], domain, trials, seed=i, shrink_coef=0.0)[0] for i in range(4000)]
    counts = np.bincount([d["misc"]["vals"]["n"][0] for d in docs], minlength=4)
    assert scipy.stats.chisquare(counts).pvalue > 0.01


def test_anneal_is_deterministic_for_a_seed():
    space = {"x": hp.uniform("x", -1, 1), "c": hp.choice("c", ["a", "b"])}
    fn = lambda p: p["x"] ** 2  # noqa: E731
    assert points(run(space, anneal.suggest, 30, fn, seed=4)) == points(run(space, anneal.suggest, 30, fn, seed=4))


# -- every algorithm on a space whose nodes are shared ----------------------------------------


def shared_space():
    lr = hp.loguniform("lr", -4, 0)
    inner = hp.choice("inner", [{"lr": lr, "k": hp.randint("k", 3)}, "none"])
    return {"x": hp.choice("x", ["off", inner]),
            "y": hp.choice("y", [{"deep": hp.choice("d", [inner, lr * 2])}, "off"]),
            "z": hp.choice("z", ["off", [lr]])}


@pytest.mark.parametrize("algo", [rand.suggest, anneal.suggest, partial(tpe.suggest, n_startup_jobs=5),
                                  partial(grid.suggest, grid_points=2)],
                         ids=["rand", "anneal", "tpe", "grid"])
def test_shared_nodes_are_recorded_active_exactly_where_the_space_uses_them(algo):
    space = shared_space()

    def fn(p):
        return float(np.log(p["z"][0])) if p["z"] != "off" else 1.0

    trials = run(space, algo, max_evals=80, fn=fn)
    assert len(trials) >= 20
    for t in trials:
        vals = RecordingVals(t["misc"]["vals"])
        space_eval(space, vals)  # raises if a label it needs was recorded inactive
        assert vals.used == {label for label, v in vals.items() if v}, dict(vals)
