"""nas.KerasObjective reports every epoch and honours pruning; a pruned child keeps its
weights, and a morphism child can start from them (load_digits, small CNNs)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

from hpo import STATUS_OK, STATUS_PRUNED, Ctrl, Trials, fmin, hp, rand
from hpo.nas import KerasObjective, morphisms, space
from hpo.nas.arch import small_cnn
from hpo.nas.keras_build import weights_from_bytes
from hpo.nas.objective import WEIGHTS_ATTACHMENT
from hpo.pruners import MedianPruner

pytestmark = pytest.mark.slow

SHAPE = (8, 8, 1)
GOOD_LR, HOPELESS_LR = 1e-2, 1e-9


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0)[..., None].astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, d.target, train_size=1197, test_size=300,
                                                      stratify=d.target, random_state=0)
    return x_train, y_train, x_val, y_val


def nas_space():
    return {"arch": space.cnn("arch", SHAPE, 10),
            "learning_rate": hp.choice("learning_rate", [GOOD_LR, HOPELESS_LR])}


@pytest.fixture(scope="module")
def pruned_search(digits):
    """The same network twice: trained well (3 epochs), then with a hopeless learning rate,
    which the median pruner stops after its first epoch."""
    objective = KerasObjective(*digits, epochs=3, batch_size=32)
    arch = small_cnn(SHAPE, 10).to_json()
    trials = Trials()
    fmin(objective, nas_space(), algo=rand.suggest, max_evals=2, trials=trials,
         show_progressbar=False, pruner=MedianPruner(n_startup_trials=1),
         points_to_evaluate=[{"arch": arch, "learning_rate": 0}, {"arch": arch, "learning_rate": 1}])
    return objective, trials


def test_every_epoch_is_reported_and_a_hopeless_network_is_pruned(pruned_search):
    _, trials = pruned_search
    good, hopeless = trials.trials
    assert trials.statuses() == [STATUS_OK, STATUS_PRUNED]
    steps = [step for step, _ in good["result"]["intermediate"]]
    assert steps == [1, 2, 3] and good["result"]["epochs"] == 3
    # The last report is 1 - validation accuracy of the last epoch, the loss returned.
    assert good["result"]["intermediate"][-1][1] == pytest.approx(good["result"]["loss"], abs=1e-6)
    (step, last), = hopeless["result"]["intermediate"]
    assert step == 1 and hopeless["result"]["pruned_at_epoch"] == 1
    assert hopeless["result"]["epochs"] == 1
    assert hopeless["result"]["loss"] == pytest.approx(last)
    assert last > good["result"]["intermediate"][0][1]


def test_a_pruned_child_keeps_its_trained_weights(pruned_search):
    _, trials = pruned_search
    hopeless = trials.trials[1]
    stored = trials.trial_attachments(hopeless).get(WEIGHTS_ATTACHMENT)
    assert stored is not None
    weights = weights_from_bytes(stored)
    n_stored = sum(int(np.prod(w.shape)) for ws in weights.values() for w in ws)
    assert n_stored == hopeless["result"]["n_params"]


def test_a_morphism_child_inherits_from_a_pruned_trial(pruned_search):
    """A child whose document names the pruned trial as its parent starts from the pruned
    trial's weights: before training it computes the parent's function."""
    objective, trials = pruned_search
    hopeless = trials.trials[1]
    parent_arch = small_cnn(SHAPE, 10)
    op = {"op": "deepen", "after": 3, "kernel": 3}
    child = morphisms.apply_chain(parent_arch, [op])
    doc = {"tid": 2, "misc": {"tid": 2, "from_tid": hopeless["tid"], "nas_ops": [op]}}
    result = objective(expr=nas_space(), memo={"arch": child.to_json(), "learning_rate": 1},
                       ctrl=Ctrl(trials, doc))
    assert result["weights_inherited"] is True and result["parent_tid"] == 1
    assert result["accuracy_before_training"] == pytest.approx(hopeless["result"]["val_accuracy"],
                                                               abs=1 / 300 + 1e-12)


def test_pruning_off_trains_every_epoch_without_reports(digits):
    objective = KerasObjective(*digits, epochs=2, batch_size=32, pruning=False)
    trials = Trials()
    # The pruner has nothing to judge, and fmin says so.
    with pytest.warns(UserWarning, match="without calling hpo.report"):
        fmin(objective, nas_space(), algo=rand.suggest, max_evals=1, trials=trials,
             show_progressbar=False, pruner=MedianPruner(n_startup_trials=0),
             points_to_evaluate=[{"arch": small_cnn(SHAPE, 10).to_json(), "learning_rate": 1}])
    result = trials.trials[0]["result"]
    assert result["status"] == STATUS_OK and result["epochs"] == 2
    assert "intermediate" not in result
    with pytest.raises(TypeError, match="pruning must be True or False, got 'yes'"):
        KerasObjective(*digits, pruning="yes")
