"""Template objectives under a pruner: the model function's Keras fits report every epoch
and a hopeless trial is pruned (real Keras MLPs on load_digits)."""

from __future__ import annotations

import os
import pickle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

from hpo import STATUS_OK, STATUS_PRUNED, Trials, fmin, rand
from hpo.pruners import MedianPruner
from hpo.template import TemplateError, compile_template, minimize

pytestmark = pytest.mark.slow

# Learning rate 0 is the good option, 1 the hopeless one (the index is what points give).
TEMPLATE = '''
import keras
from sklearn.datasets import load_digits
from hpo.keras import PruningCallback


def data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:1200], y[:1200], x[1200:], y[1200:]


def model(x_train, y_train, x_val, y_val):
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                            keras.layers.Dense(10, activation="softmax")])
    net.compile(keras.optimizers.Adam(<<choice([3e-2, 1e-7], label="lr")>>),
                "sparse_categorical_crossentropy", metrics=["accuracy"])
    how = <<choice(["one fit", "two fits", "own callback"], label="how")>>
    callbacks = [PruningCallback(monitor="val_accuracy")] if how == "own callback" else []
    history = net.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=2, verbose=0,
                      callbacks=callbacks)
    val_losses = history.history["val_loss"]
    if how == "two fits":
        val_losses += net.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=1,
                              verbose=0).history["val_loss"]
    return {"loss": val_losses[-1], "status": "ok", "val_losses": val_losses,
            "val_accuracy": history.history["val_accuracy"], "model": net}
'''


@pytest.fixture(scope="module")
def template():
    return compile_template(TEMPLATE)


def search(template, points, pruner=None, **objective_options):
    trials = Trials()
    fmin(template.objective(**objective_options), template.space, algo=rand.suggest,
         max_evals=len(points), trials=trials, show_progressbar=False, pruner=pruner,
         points_to_evaluate=points)
    return trials


def test_fits_report_each_epoch_and_a_hopeless_trial_is_pruned(template):
    trials = search(template, [{"lr": 0, "how": 0}, {"lr": 1, "how": 0}, {"lr": 0, "how": 1}],
                    pruner=MedianPruner(n_startup_trials=1))
    good, hopeless, two_fits = trials.trials
    assert trials.statuses() == [STATUS_OK, STATUS_PRUNED, STATUS_OK]
    assert good["result"]["intermediate"] == [[1, pytest.approx(good["result"]["val_losses"][0])],
                                              [2, pytest.approx(good["result"]["val_losses"][1])]]
    (step, last), = hopeless["result"]["intermediate"]
    assert step == 1 and hopeless["result"]["loss"] == pytest.approx(last)
    assert last > good["result"]["intermediate"][0][1]
    # A second fit in the same trial goes on counting epochs, so its steps keep increasing.
    steps = [s for s, _ in two_fits["result"]["intermediate"]]
    assert steps == [1, 2, 3]
    assert np.allclose([v for _, v in two_fits["result"]["intermediate"]],
                       two_fits["result"]["val_losses"])
    # Fits are wrapped only while a trial runs.
    assert "fit" not in keras.Model.__dict__


def test_a_fit_with_its_own_callback_is_left_as_it_is(template):
    trials = search(template, [{"lr": 0, "how": 2}], pruner=MedianPruner())
    result = trials.trials[0]["result"]
    # Its PruningCallback reports 1 - val_accuracy, and nothing else reports val_loss.
    assert np.allclose([v for _, v in result["intermediate"]], 1 - np.array(result["val_accuracy"]))


def test_without_a_pruner_or_with_reports_off_the_fits_are_untouched(template):
    trials = search(template, [{"lr": 0, "how": 0}])
    assert "intermediate" not in trials.trials[0]["result"]
    with pytest.warns(UserWarning, match="without calling hpo.report"):
        trials = search(template, [{"lr": 0, "how": 0}], pruner=MedianPruner(),
                        pruning_monitor=None)
    assert "intermediate" not in trials.trials[0]["result"]


def test_minimize_passes_the_pruner_on(template):
    trials = Trials()
    minimize(template, algo=rand.suggest, max_evals=2, trials=trials, verbose=False,
             pruner=MedianPruner(n_startup_trials=1),
             points_to_evaluate=[{"lr": 0, "how": 0}, {"lr": 1, "how": 0}])
    assert trials.statuses() == [STATUS_OK, STATUS_PRUNED]


def test_pruning_monitor_is_checked_and_shipped_to_workers(template):
    with pytest.raises(TemplateError, match="pruning_monitor must be a metric name.*got 3"):
        template.objective(pruning_monitor=3)
    objective = pickle.loads(pickle.dumps(template.objective(pruning_monitor="val_accuracy")))
    assert objective.pruning_monitor == "val_accuracy"
