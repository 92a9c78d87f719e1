"""Parameter importance ranks the parameters that drive the loss first."""

import numpy as np
import pytest

from hpo import Trials, fmin, hp, rand
from hpo.importance import param_importances

# The loss depends strongly on a, then on the categorical c, then on the conditional b
# (active only when c chooses option 1), and not at all on the two noise parameters.
SPACE = {
    "a": hp.uniform("a", -1, 1),
    "c": hp.choice("c", [{"opt": 0}, {"opt": 1, "b": hp.uniform("b", 0, 1)}, {"opt": 2}]),
    "noise1": hp.uniform("noise1", 0, 1),
    "noise2": hp.quniform("noise2", 0, 10, 1),
}


def loss(p):
    c = p["c"]
    b_term = 0.8 * c["b"] if c["opt"] == 1 else 0.4
    return 4 * p["a"] ** 2 + [0.0, 0.5, 1.0][c["opt"]] + b_term


@pytest.fixture(scope="module")
def trials():
    t = Trials()
    fmin(loss, SPACE, algo=rand.suggest, max_evals=400, trials=t, show_progressbar=False,
         rstate=np.random.default_rng(3))
    return t


def test_known_important_parameters_rank_first(trials):
    imp = param_importances(trials)
    assert list(imp)[:3] == ["a", "c", "b"]
    assert imp["noise1"] < 0.03 and imp["noise2"] < 0.03
    assert abs(sum(imp.values()) - 1) < 1e-9


def test_ranking_agrees_with_permutation_importance_of_a_random_forest(trials):
    """The same ranking as a random forest's permutation importance (scikit-learn)."""
    ensemble = pytest.importorskip("sklearn.ensemble")
    inspection = pytest.importorskip("sklearn.inspection")
    labels = ["a", "c", "b", "noise1", "noise2"]
    h = trials.history
    X = np.nan_to_num(h.matrix(labels), nan=-1.0)  # inactive b as its own value
    y = h.losses
    forest = ensemble.RandomForestRegressor(n_estimators=50, random_state=0).fit(X, y)
    perm = inspection.permutation_importance(forest, X, y, n_repeats=5, random_state=0)
    forest_ranking = [labels[i] for i in np.argsort(-perm.importances_mean)]
    ours = list(param_importances(trials, labels))
    assert ours[:3] == forest_ranking[:3]
    assert set(ours[3:]) == set(forest_ranking[3:]) == {"noise1", "noise2"}


def test_too_few_trials_and_bad_arguments():
    t = Trials()
    fmin(loss, SPACE, algo=rand.suggest, max_evals=2, trials=t, show_progressbar=False,
         rstate=np.random.default_rng(0))
    assert set(param_importances(t).values()) == {0.0}
    with pytest.raises(ValueError, match="n_bins must be an int >= 2, got 1"):
        param_importances(t, n_bins=1)
    with pytest.raises(ValueError, match="'zz'"):
        param_importances(t, labels="zz")
