"""Algorithms learn from warm-started trials whatever number types their ``misc.vals`` hold."""

from __future__ import annotations

import numpy as np
import pytest

from hpo import Domain, anneal, hp, tpe

from history_fixtures import finished_trials

SPACE = {"x": hp.uniform("x", 0, 1), "n": hp.uniformint("n", 0, 10),
         "c": hp.choice("c", ["a", "b", "c"])}


def warm_history(as_numpy):
    """40 finished trials; the good ones have x near 0.2, n = 7 and c = 1."""
    rng = np.random.default_rng(0)
    points = []
    for _ in range(40):
        # float32 values rounded once, so both histories hold exactly the same numbers.
        x = float(np.float32(rng.uniform(0, 1)))
        n, c = int(rng.integers(0, 11)), int(rng.integers(0, 3))
        loss = (x - 0.2) ** 2 + abs(n - 7) / 10 + (c != 1)
        if as_numpy:
            vals = {"x": [np.float32(x)], "n": [np.int64(n)], "c": [np.int32(c)]}
        else:
            vals = {"x": [x], "n": [n], "c": [c]}
        points.append((vals, loss))
    return finished_trials(points)


def suggested(algo, trials, n=60):
    """The next suggestion for ``n`` seeds (one id per call, so no batch effect)."""
    domain = Domain(lambda p: 0.0, SPACE)
    docs = [algo([100], domain, trials, seed)[0] for seed in range(n)]
    return [{k: v[0] for k, v in d["misc"]["vals"].items()} for d in docs]


def test_numpy_scalar_vals_enter_the_history_as_numbers():
    trials = warm_history(as_numpy=True)
    reference = warm_history(as_numpy=False)
    for label in ("x", "n", "c"):
        column = trials.history.column(label)
        assert not np.isnan(column).any(), label
        assert np.array_equal(column, reference.history.column(label))


@pytest.mark.parametrize("algo", [tpe.suggest, anneal.suggest], ids=["tpe", "anneal"])
def test_a_numpy_scalar_warm_start_is_used_like_a_python_one(algo):
    from_numpy = suggested(algo, warm_history(as_numpy=True))
    from_python = suggested(algo, warm_history(as_numpy=False))
    assert from_numpy == from_python
    # ... and it is used: the suggestions follow the good trials, which prior draws would not
    # (the prior gives c = 1 a third of the time, |n - 7| <= 1 3/11, |x - 0.2| < 0.1 a fifth).
    assert np.mean([p["c"] == 1 for p in from_numpy]) > 0.6
    assert np.mean([abs(p["n"] - 7) <= 1 for p in from_numpy]) > 0.5
    assert np.mean([abs(p["x"] - 0.2) < 0.1 for p in from_numpy]) > 0.4
