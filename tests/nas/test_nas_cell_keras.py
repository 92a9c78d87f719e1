"""PNAS cells as Keras networks: building, training with fmin, export, warm start."""

from __future__ import annotations

import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

from hpo import STATUS_OK, Trials, fmin, rand  # noqa: E402
from hpo.nas import (  # noqa: E402
    Cell,
    CellPrior,
    KerasObjective,
    build_keras,
    export_best,
    pnas,
    space,
    trial_model,
)
from hpo.nas.cell_build import inherit_weights  # noqa: E402
from hpo.nas.keras_build import get_weights, set_weights  # noqa: E402

pytestmark = pytest.mark.slow

SHAPE = (8, 8, 1)
TWO_BLOCKS = [(-1, "sep_conv_3x3", -2, "max_pool_3x3"), (0, "conv_3x3", -1, "avg_pool_3x3")]


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0)[..., None].astype("float32")
    return x[:300], d.target[:300], x[300:450], d.target[300:450]


def perturbed_model(arch, rng):
    """A model of ``arch`` with every weight moved off its initial value, BatchNorm moving
    statistics included, as a trained network's would be."""
    model = build_keras(arch, seed=1)
    weights = get_weights(model, arch)
    for lid, ws in weights.items():
        moved = [w + rng.normal(scale=0.2, size=w.shape).astype(w.dtype) for w in ws]
        if arch.by_id[lid]["type"] == "bn":
            moved[3] = np.abs(moved[3]) + 0.5  # a variance stays positive
        weights[lid] = moved
    set_weights(model, arch, weights)
    return model, weights


def test_built_network_matches_the_cell():
    prior = CellPrior(SHAPE, 10, blocks=2, stages=2, cells_per_stage=2, filters=4)
    cell = Cell(TWO_BLOCKS, prior)
    model = build_keras(cell.to_architecture())
    assert model.count_params() == cell.count_params()
    assert model.output_shape == (None, 10)
    keras.backend.clear_session()


def outputs_after_inheriting(parent, parent_weights, child, x):
    """The child's inference-mode outputs on ``x`` after taking the parent's weights, and the
    child's full weights."""
    arch = child.to_architecture()
    model = build_keras(arch, seed=2)
    fresh = get_weights(model, arch)
    inherited = inherit_weights(parent, parent_weights, child)
    assert set(inherited) < set(fresh)  # the new block's layers keep their own initialization
    set_weights(model, arch, {**fresh, **inherited})
    return keras.ops.convert_to_numpy(model(x, training=False)), get_weights(model, arch)


def test_child_computes_the_parents_function_before_training(digits):
    rng = np.random.default_rng(0)
    prior = CellPrior(SHAPE, 10, blocks=3, filters=4)
    x = digits[0][:64]
    parent = Cell([(-2, "sep_conv_3x3", -2, "conv_3x3")], prior)  # reads only -2
    parent_model, parent_weights = perturbed_model(parent.to_architecture(), rng)
    expected = keras.ops.convert_to_numpy(parent_model(x, training=False))
    children = parent.expand()

    def reads(cell, source):
        return any(source in (b[0], b[2]) for b in cell.blocks)

    picks = [next(c for c in children if reads(c, 0)),  # the new block reads the parent's block
             next(c for c in children if reads(c, -1)),  # ... an input the parent left unused
             children[len(children) // 2]]
    for child in picks:
        got, child_weights = outputs_after_inheriting(parent, parent_weights, child, x)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        # One more level: the grandchild computes the (warm-started) child's function.
        grandchild = child.expand()[123]
        again, _ = outputs_after_inheriting(child, child_weights, grandchild, x)
        np.testing.assert_allclose(again, got, atol=1e-5)
    keras.backend.clear_session()


def test_pnas_child_starts_as_its_trained_parent(digits):
    cells = space.cells("cell", SHAPE, 10, blocks=2, filters=4)
    trials = Trials()
    fmin(KerasObjective(*digits, epochs=1, batch_size=32), {"cell": cells},
         algo=functools.partial(pnas.suggest, k1=1, beam=1, n_models=2, epochs=50), max_evals=2,
         trials=trials, rstate=np.random.default_rng(0), show_progressbar=False)
    parent, child = trials.trials
    assert child["misc"]["pnas"]["level"] == 2 and child["misc"]["from_tid"] == parent["tid"]
    assert parent["result"]["status"] == child["result"]["status"] == STATUS_OK
    assert child["result"]["weights_inherited"] is True and child["result"]["parent_tid"] == parent["tid"]
    # Same function, so the same validation accuracy before training as the parent's after.
    assert abs(child["result"]["accuracy_before_training"] - parent["result"]["val_accuracy"]) <= 1 / 150


def test_warm_start_off_trains_the_child_from_scratch(digits):
    cells = space.cells("cell", SHAPE, 10, blocks=2, filters=4, warm_start=False)
    prior = cells.arg("prior")
    parent_json, child_json = Cell(TWO_BLOCKS[:1], prior).to_json(), Cell(TWO_BLOCKS, prior).to_json()

    def parent_then_child(new_ids, domain, trials, seed):
        docs = rand.suggest(new_ids, domain, trials, seed)
        for doc in docs:
            doc["misc"]["vals"]["cell"] = [parent_json if doc["tid"] == 0 else child_json]
            if doc["tid"] == 1:
                doc["misc"]["from_tid"] = 0
        return docs

    trials = Trials()
    fmin(KerasObjective(*digits, epochs=1, batch_size=32), {"cell": cells}, algo=parent_then_child,
         max_evals=2, trials=trials, rstate=np.random.default_rng(0), show_progressbar=False)
    result = trials.trials[1]["result"]
    assert result["status"] == STATUS_OK and result["parent_tid"] == 0
    assert result["weights_inherited"] is False and "inheritance_error" not in result


def test_random_search_trains_and_exports_a_cell_network(digits, tmp_path):
    cells = space.cells("cell", SHAPE, 10, blocks=2, filters=4)
    two_blocks = Cell(TWO_BLOCKS, cells.arg("prior")).to_json()
    trials = Trials()
    fmin(KerasObjective(*digits, epochs=1, batch_size=32), {"cell": cells}, algo=rand.suggest,
         max_evals=2, trials=trials, points_to_evaluate=[{"cell": two_blocks}],
         rstate=np.random.default_rng(0), show_progressbar=False)
    assert [t["result"]["status"] for t in trials.trials] == [STATUS_OK, STATUS_OK]
    assert trials.trials[0]["result"]["arch_hash"] == Cell(TWO_BLOCKS, cells.arg("prior")).to_architecture().hash
    path = export_best(trials, tmp_path / "best.keras")
    loaded = keras.models.load_model(path)
    x = digits[2][:32]
    expected = keras.ops.convert_to_numpy(trial_model(trials, trials.best_trial)(x, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x, training=False)), expected, atol=1e-5)
    keras.backend.clear_session()
