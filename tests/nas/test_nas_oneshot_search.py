"""One-shot searches end to end on load_digits: ENAS over a shared supernet, finalize's
retrained and exported model, DARTS, and bad input (a test each)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

from oneshot_support import digits, tiny_cells

from hpo import STATUS_FAIL, STATUS_OK, Trials, fmin, hp
from hpo.nas import KerasObjective, darts, enas
from hpo.nas.objective import accuracy
from hpo.nas.oneshot import SUPERNET_PREFIX, SharedWeightsObjective, Supernet, finalize

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return digits()


def test_an_enas_search_ends_in_a_retrained_exported_model_that_reloads_and_scores_the_same(data, tmp_path):
    x, y, xv, yv, xt, yt = data
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=20, batch_size=32, save_every=5)
    trials = Trials()
    fmin(objective, {"cell": tiny_cells(filters=8)}, algo=enas.suggest, max_evals=20, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    results = [t["result"] for t in trials]
    assert all(r["status"] == STATUS_OK and r["shared_weights"] for r in results)
    assert [r["supernet_steps"] for r in results] == [20 * (k + 1) for k in range(20)]
    # The supernet trains across children: later children score better on shared weights.
    acc = np.array([r["val_accuracy"] for r in results])
    assert acc[-5:].mean() > acc[:3].mean() + 0.1 and acc[-5:].mean() > 0.6, acc
    assert SUPERNET_PREFIX + "cell" in trials.attachments and enas.STATE_PREFIX + "cell" in trials.attachments

    path = str(tmp_path / "best.keras")
    report = finalize(trials, KerasObjective(x, y, xv, yv, epochs=2, batch_size=32), path, top_k=2,
                      x_test=xt, y_test=yt, shared=objective)
    assert len(report["children"]) == 2
    shared = [c["shared_accuracy"] for c in report["children"]]
    assert shared == sorted(shared, reverse=True) and shared[0] == acc.max()
    best = report["best"]
    assert best["retrained_accuracy"] == max(c["retrained_accuracy"] for c in report["children"]) > 0.5
    model = keras.models.load_model(path)
    assert accuracy(model, xv, yv) == pytest.approx(best["retrained_accuracy"], abs=1e-9)
    assert report["test_accuracy"] == pytest.approx(accuracy(model, xt, yt)) and report["test_accuracy"] > 0.5
    # The end-of-search save holds the final supernet.
    again = Supernet(tiny_cells(filters=8))
    again.load_bytes(trials.attachments[SUPERNET_PREFIX + "cell"])
    assert again.steps == 400


def test_darts_returns_a_cell_of_the_space_that_trains_and_exports(data, tmp_path):
    x, y, xv, yv = data[:4]
    space = tiny_cells()
    cell, net = darts.search(x, y, xv, yv, space, epochs=2, batch_size=32, return_network=True)
    prior = space.arg("prior")
    assert cell.level == 2 and prior.decode(cell.to_json()) == cell
    weights = net.op_weights()
    assert weights.shape == (2, 3, 4) and np.allclose(weights[0, :2].sum(axis=-1), 1)
    assert np.abs(weights[:, :2] - 0.25).max() > 0.01  # alpha learned something
    assert np.allclose(weights[1].sum(axis=-1), 1) and not weights[0, 2].any()  # block 0 cannot read block 1
    trials = Trials()
    fmin(KerasObjective(x, y, xv, yv, epochs=1), {"cell": space}, max_evals=1, trials=trials,
         points_to_evaluate=[{"cell": cell.to_json()}], show_progressbar=False)
    assert trials.trials[0]["misc"]["vals"]["cell"][0]["cell"]["blocks"] == [list(b) for b in cell.blocks]


# -- bad input -------------------------------------------------------------------------------------


def test_a_space_without_a_cell_parameter_is_refused(data):
    x, y, xv, yv = data[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=1, batch_size=32)
    with pytest.raises(ValueError, match="exactly one nas.space.cells parameter"):
        objective(hp.uniform("x", 0, 1), {"x": 0.5})
    with pytest.raises(ValueError, match="exactly one nas.space.cells parameter"):
        darts.search(x, y, xv, yv, {"x": hp.uniform("x", 0, 1)})


def test_a_space_whose_block_count_differs_from_the_supernets_is_refused(data):
    x, y, xv, yv = data[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=1, batch_size=32,
                                       supernet=Supernet(tiny_cells(blocks=2)))
    with pytest.raises(ValueError, match="blocks=3; the supernet was built for blocks=2"):
        fmin(objective, {"cell": tiny_cells(blocks=3)}, algo=enas.suggest, max_evals=1,
             show_progressbar=False)


def test_data_too_small_for_one_minibatch_is_refused(data):
    x, y, xv, yv = data[:4]
    with pytest.raises(ValueError, match=r"x_train has 20 samples, fewer than one minibatch \(batch_size=32\)"):
        SharedWeightsObjective(x[:20], y[:20], xv, yv, batch_size=32)
    with pytest.raises(ValueError, match=r"x_val has 10 samples, fewer than one minibatch \(batch_size=16\)"):
        darts.search(x, y, xv[:10], yv[:10], tiny_cells(), batch_size=16)


def test_a_nan_step_fails_the_trial_restores_the_supernet_and_the_search_goes_on(data):
    x, y, xv, yv = data[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=5, batch_size=32)
    space = {"cell": tiny_cells(), "learning_rate": hp.choice("learning_rate", [3e-3, 1e38])}
    cell = [[-1, "conv_3x3", -2, "conv_3x3"], [0, "conv_3x3", -1, "max_pool_3x3"]]
    value = {"cell": {"blocks": cell}}
    points = [{"cell": value, "learning_rate": 0}, {"cell": value, "learning_rate": 1},
              {"cell": value, "learning_rate": 0}]
    trials = Trials()
    for n in (1, 2, 3):
        fmin(objective, space, algo=enas.suggest, max_evals=n, trials=trials, points_to_evaluate=points,
             show_progressbar=False)
        if n == 1:
            good = objective.supernet.snapshot()
        if n == 2:
            assert all(np.array_equal(a, b) for a, b in zip(good, objective.supernet.snapshot()))
    first, nan, after = (t["result"] for t in trials)
    assert first["status"] == STATUS_OK and nan["status"] == STATUS_FAIL and "NaN or infinite" in nan["error"]
    assert after["status"] == STATUS_OK and after["supernet_steps"] == 10
    assert after["val_accuracy"] > 0.2


def test_finalize_refuses_a_retrainer_that_is_not_a_keras_objective_and_an_empty_search(data, tmp_path):
    x, y, xv, yv = data[:4]
    path = str(tmp_path / "best.keras")
    with pytest.raises(TypeError, match="retrain must be an hpo.nas.KerasObjective"):
        finalize(Trials(), lambda p: 0.0, path, space={"cell": tiny_cells()})
    with pytest.raises(ValueError, match="no finished child"):
        finalize(Trials(), KerasObjective(x, y, xv, yv, epochs=1), path, space={"cell": tiny_cells()})
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        finalize(Trials(), KerasObjective(x, y, xv, yv, epochs=1), path, top_k=0, space={"cell": tiny_cells()})


def test_eval_samples_scores_every_child_on_one_fixed_subset_of_the_validation_data(data):
    x, y, xv, yv = data[:4]
    objective = SharedWeightsObjective(x, y, xv, yv, train_steps=2, batch_size=32, eval_samples=50, seed=3)
    assert len(objective.x_val) == len(objective.y_val) == 50
    again = SharedWeightsObjective(x, y, xv, yv, train_steps=2, batch_size=32, eval_samples=50, seed=3)
    assert np.array_equal(objective.x_val, again.x_val) and np.array_equal(objective.y_val, again.y_val)
    trials = Trials()
    fmin(objective, {"cell": tiny_cells()}, algo=enas.suggest, max_evals=3, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    for t in trials:
        assert t["result"]["val_accuracy"] * 50 == pytest.approx(round(t["result"]["val_accuracy"] * 50))
    assert len(SharedWeightsObjective(x, y, xv, yv, eval_samples=10**6).x_val) == len(xv)
    with pytest.raises(ValueError, match="eval_samples must be an int >= 1"):
        SharedWeightsObjective(x, y, xv, yv, eval_samples=0)
