"""hpo.keras.PruningCallback with real Keras models on load_digits, in and outside fmin."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")

import hpo
from hpo import STATUS_OK, STATUS_PRUNED, Trials, fmin, hp, rand
from hpo.keras import PruningCallback, metric_mode
from hpo.pruners import MedianPruner

GOOD_LR, HOPELESS_LR = 3e-2, 1e-7


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:1200], y[:1200], x[1200:], y[1200:]


def mlp(learning_rate):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_outside_fmin_it_trains_every_epoch_and_never_prunes(digits):
    x, y, x_val, y_val = digits
    callback = PruningCallback(monitor="val_loss")
    history = mlp(HOPELESS_LR).fit(x, y, validation_data=(x_val, y_val), epochs=3, verbose=0,
                                   callbacks=[callback])
    assert len(history.history["val_loss"]) == 3
    assert callback.pruned is False and callback.pruned_step is None
    # What it gave hpo.report (which, with no running trial, only checked it).
    assert [step for step, _ in callback.reports] == [1, 2, 3]
    assert np.allclose([loss for _, loss in callback.reports], history.history["val_loss"])


def test_a_pruned_trial_is_recorded_as_pruned_with_its_reports(digits):
    """Trial 0 learns, trial 1 cannot (tiny learning rate): the median pruner stops trial 1
    after its first epoch, and the search goes on."""
    x, y, x_val, y_val = digits
    fits = {}

    def objective(params):
        model = mlp(params["learning_rate"])
        history = model.fit(x, y, validation_data=(x_val, y_val), epochs=3, verbose=0,
                            callbacks=[PruningCallback(monitor="val_accuracy")])
        fits[params["learning_rate"]] = history.history
        return 1.0 - history.history["val_accuracy"][-1]

    trials = Trials()
    fmin(objective, {"learning_rate": hp.choice("learning_rate", [GOOD_LR, HOPELESS_LR])},
         algo=rand.suggest, max_evals=3, trials=trials, show_progressbar=False,
         pruner=MedianPruner(n_startup_trials=1),
         points_to_evaluate=[{"learning_rate": 0}, {"learning_rate": 1}, {"learning_rate": 0}])
    good, hopeless, again = trials.trials
    assert trials.statuses() == [STATUS_OK, STATUS_PRUNED, STATUS_OK]
    assert [s for s, _ in good["result"]["intermediate"]] == [1, 2, 3]
    # 1 - val_accuracy of each epoch, as the callback converts an accuracy.
    assert np.allclose([v for _, v in good["result"]["intermediate"]],
                       1 - np.array(fits[GOOD_LR]["val_accuracy"]))
    (step, last), = hopeless["result"]["intermediate"]
    assert step == 1 and hopeless["result"]["loss"] == pytest.approx(last)
    assert last > good["result"]["intermediate"][0][1]
    assert len(fits) == 1  # the hopeless fit raised TrialPruned before returning its history
    assert again["result"]["status"] == STATUS_OK


def test_raise_pruned_false_stops_fit_and_leaves_the_ending_to_the_objective(digits):
    x, y, x_val, y_val = digits
    seen = {}

    def objective(params):
        callback = PruningCallback(monitor="val_loss", raise_pruned=False)
        history = mlp(params["learning_rate"]).fit(x, y, validation_data=(x_val, y_val), epochs=4,
                                                   verbose=0, callbacks=[callback])
        seen[params["learning_rate"]] = (len(history.history["loss"]), callback.pruned_step)
        if callback.pruned:
            raise hpo.TrialPruned()
        return history.history["val_loss"][-1]

    trials = Trials()
    fmin(objective, {"learning_rate": hp.choice("learning_rate", [GOOD_LR, HOPELESS_LR])},
         algo=rand.suggest, max_evals=2, trials=trials, show_progressbar=False,
         pruner=MedianPruner(n_startup_trials=1),
         points_to_evaluate=[{"learning_rate": 0}, {"learning_rate": 1}])
    assert seen == {GOOD_LR: (4, None), HOPELESS_LR: (1, 1)}
    assert trials.statuses() == [STATUS_OK, STATUS_PRUNED]


def test_a_monitor_missing_from_the_logs_is_an_error_naming_it(digits):
    x, y, _, _ = digits
    with pytest.raises(ValueError, match=r"monitor='val_loss'.*no 'val_loss'.*validation_data"):
        mlp(GOOD_LR).fit(x, y, epochs=1, verbose=0, callbacks=[PruningCallback(monitor="val_loss")])


def test_arguments_are_checked_with_messages_naming_them():
    assert metric_mode("val_loss") == "min" and metric_mode("val_auc") == "max"
    with pytest.raises(ValueError, match="monitor='val_score'.*mode='min' or mode='max'"):
        PruningCallback(monitor="val_score")
    with pytest.raises(ValueError, match="mode must be one of .* got 'up'"):
        PruningCallback(mode="up")
    with pytest.raises(ValueError, match="to_loss must be a function"):
        PruningCallback(to_loss=0.5)
    with pytest.raises(ValueError, match="monitor must be the name of a metric"):
        PruningCallback(monitor="")
    # The direction decides what is reported: losses as they are, scores turned into losses.
    assert PruningCallback(monitor="val_score", mode="max").to_loss(2.0) == -2.0
    assert PruningCallback(monitor="val_accuracy").to_loss(0.9) == pytest.approx(0.1)
    assert PruningCallback(monitor="val_score", to_loss=lambda v: 10 - v).to_loss(4.0) == 6.0


@pytest.mark.slow
def test_importing_hpo_does_not_import_keras():
    code = ("import sys, hpo; hpo.fmin; print('keras' in sys.modules, 'tensorflow' in sys.modules); "
            "print(hpo.keras.PruningCallback.__name__, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "PruningCallback", "True"]
