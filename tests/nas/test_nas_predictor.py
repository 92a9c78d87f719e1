"""The PNAS predictor ensemble: fit quality, folds, determinism, bytes, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy.stats import spearmanr

from hpo.nas.predictor import Predictor


def data(n, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(n, d)).astype(float)
    w = np.linspace(-1, 1, d)
    y = X @ w + 0.5 * X[:, 0] * X[:, 1] + 0.05 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("kind", ["mlp", "ridge", "gp"])
def test_ranks_held_out_values_well(kind):
    X, y = data(200)
    p = Predictor(kind=kind, seed=0).fit(X[:120], y[:120])
    mean, std = p.predict(X[120:])
    assert spearmanr(mean, y[120:]).statistic > 0.9
    assert mean.shape == std.shape == (80,) and np.all(std >= 0) and np.any(std > 0)


def test_gp_fits_what_a_linear_model_cannot_and_picks_its_length_scale_from_the_data():
    # A bump in the middle of a 2-d square: no linear ranking exists, a GP's does.
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(150, 2))
    y = np.exp(-4 * (X ** 2).sum(axis=1))
    train, test = slice(0, 100), slice(100, None)
    gp = Predictor(kind="gp", seed=0).fit(X[train], y[train])
    ridge = Predictor(kind="ridge", seed=0).fit(X[train], y[train])
    gp_rho = spearmanr(gp.predict(X[test])[0], y[test]).statistic
    ridge_rho = spearmanr(ridge.predict(X[test])[0], y[test]).statistic
    assert gp_rho > 0.95 and abs(ridge_rho) < 0.5
    # The same shape ten times wider: the chosen length scale follows the data's scale.
    wide = Predictor(kind="gp", seed=0).fit(10 * X[train], y[train])
    scale = float(gp.members[0]["gp_length_scale"][0])
    assert float(wide.members[0]["gp_length_scale"][0]) == pytest.approx(10 * scale, rel=0.2)
    assert np.allclose(wide.predict(10 * X[test])[0], gp.predict(X[test])[0], atol=0.02)


def test_members_are_trained_on_different_folds():
    X, y = data(50)
    p = Predictor(n_models=5, seed=1).fit(X, y)
    assert len(p.members) == 5
    preds = np.stack([p._predict_member(m, p._scale_x(X)) for m in p.members])
    assert np.all(preds.std(axis=0) > 0)  # five different regressors


def test_groups_are_held_out_together():
    # Rows of a group share a target; ridge members see identical rows when a whole group is
    # held out together, so a member's prediction on a held-out group differs from its target.
    X, y = data(10)
    X2 = np.vstack([X, X])  # each value twice (an "equivalent form")
    y2 = np.concatenate([y, y])
    groups = np.concatenate([np.arange(10), np.arange(10)])
    p = Predictor(kind="ridge", n_models=5, l2=1e-6, seed=0).fit(X2, y2, groups)
    residual = np.stack([p._predict_member(m, p._scale_x(X)) * p.y_scale + p.y_mean - y
                         for m in p.members])
    # Each value is held out by exactly one member, which cannot interpolate it.
    assert np.all((np.abs(residual) > 1e-6).sum(axis=0) >= 1)
    with pytest.raises(ValueError, match=r"groups must have shape \(20,\)"):
        p.fit(X2, y2, groups[:5])


def test_deterministic_for_a_seed_and_seed_matters():
    X, y = data(40)
    a = Predictor(seed=3).fit(X, y).predict(X)
    b = Predictor(seed=3).fit(X, y).predict(X)
    c = Predictor(seed=4).fit(X, y).predict(X)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_fewer_values_than_members_still_fits():
    X, y = data(3)
    mean, _ = Predictor(n_models=5, seed=0).fit(X, y).predict(X)
    assert np.all(np.isfinite(mean))
    mean, std = Predictor(seed=0).fit(X[:1], y[:1]).predict(X)
    assert np.allclose(mean, y[0]) and np.allclose(std, 0)


@pytest.mark.parametrize("kind", ["mlp", "ridge", "gp"])
def test_bytes_round_trip_without_pickle(kind):
    X, y = data(30)
    p = Predictor(kind=kind, hidden=8, epochs=50, seed=2).fit(X, y)
    data_bytes = p.to_bytes()
    with np.load(io.BytesIO(data_bytes), allow_pickle=False) as npz:  # no object arrays inside
        assert "meta" in npz.files
    q = Predictor.from_bytes(data_bytes)
    assert q.options() == p.options()
    assert np.array_equal(q.predict(X)[0], p.predict(X)[0])
    with pytest.raises(ValueError, match="not fitted"):
        Predictor.from_bytes(Predictor().to_bytes()).predict(X)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_models": 0}, "n_models must be an int >= 1, got 0"),
    ({"kind": "tree"}, "kind must be one of"),
    ({"hidden": 0}, "hidden must be an int >= 1, got 0"),
    ({"epochs": 1.5}, "epochs must be an int >= 1, got 1.5"),
    ({"learning_rate": -1}, "learning_rate must be a finite number > 0, got -1"),
    ({"l2": float("inf")}, "l2 must be a finite number >= 0, got inf"),
    ({"target": "sqrt"}, "target must be one of \\('loss', 'log'\\), got 'sqrt'"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Predictor(**kwargs)


def test_bad_data_is_refused():
    p = Predictor()
    with pytest.raises(ValueError, match=r"X of shape \(n, d\) and y of shape \(n,\)"):
        p.fit(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        p.fit(np.zeros((2, 2)), np.array([0.0, np.nan]))
    p.fit(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        p.predict(np.zeros((2, 3)))


def test_log_target_orders_the_good_values_a_few_outliers_would_hide():
    # Most losses near the best, a few broken values far worse: fitted on the raw loss, a
    # linear model spends itself on the outliers; on the shifted log the good ones stay ordered.
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(300, 10)).astype(float)
    y = 0.1 + 0.01 * (X @ np.linspace(0, 1, 10)) + 0.001 * rng.normal(size=300)
    broken = X[:, 0] * X[:, 1] * X[:, 2] == 1
    y[broken] = 0.9
    train, test = slice(0, 200), slice(200, 300)
    good = ~broken[test]
    rho = {}
    for target in ("loss", "log"):
        p = Predictor(kind="ridge", target=target, seed=0).fit(X[train], y[train])
        mean, _ = p.predict(X[test])
        rho[target] = spearmanr(mean[good], y[test][good]).statistic
    assert rho["log"] > rho["loss"] + 0.05, rho


def test_log_target_survives_bytes_and_speaks_in_losses():
    X, y = data(60)
    p = Predictor(kind="ridge", target="log", seed=0).fit(X, y)
    q = Predictor.from_bytes(p.to_bytes())
    np.testing.assert_allclose(q.predict(X)[0], p.predict(X)[0])
    assert abs(float(np.mean(p.predict(X)[0])) - float(np.mean(y))) < 0.2 * float(np.std(y))


def test_lstm_members_read_tokens_in_order_and_predict_without_keras():
    # The loss depends on the first and the last token, each as one of 3 categories.
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 3, size=(120, 3))
    X = np.eye(3)[tokens].reshape(120, 9)
    y = 0.5 * (tokens[:, 0] == 2) + 0.2 * tokens[:, 2] + 0.01 * rng.normal(size=120)
    p = Predictor(kind="lstm", token_dim=3, n_models=3, hidden=8, epochs=150, seed=0)
    p.fit(X[:80], y[:80])
    mean, std = p.predict(X[80:])
    assert spearmanr(mean, y[80:]).statistic > 0.8
    assert np.all(std >= 0) and np.any(std > 0)
    q = Predictor.from_bytes(p.to_bytes())
    np.testing.assert_allclose(q.predict(X)[0], p.predict(X)[0])


def test_lstm_needs_a_token_length_that_divides_the_features():
    with pytest.raises(ValueError, match="kind='lstm' needs token_dim"):
        Predictor(kind="lstm")
    with pytest.raises(ValueError, match="token_dim must be an int >= 1, got 0"):
        Predictor(kind="lstm", token_dim=0)
    with pytest.raises(ValueError, match="token_dim=4 numbers; the features have length 6"):
        Predictor(kind="lstm", token_dim=4, epochs=1).fit(np.zeros((3, 6)), np.arange(3.0))
