"""Hyperas' mnist_ensemble.py on load_digits: only the imports change."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
pytest.importorskip("sklearn")
pytestmark = pytest.mark.slow

from keras.layers import Activation, Dense, Dropout, Input  # noqa: E402
from keras.models import Sequential  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402

from hpo import STATUS_OK, Trials, rand  # noqa: E402  (was: from hyperopt import ...)
from hpo.template import optim  # noqa: E402  (was: from hyperas import optim)
from hpo.template.distributions import choice, uniform  # noqa: E402,F401  (was: hyperas.distributions)
from hpo.template.ensemble import VotingModel  # noqa: E402


def data():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    Y = np.eye(10, dtype="float32")[y]
    X_train, Y_train, X_test, Y_test = x[:1400], Y[:1400], x[1400:], Y[1400:]
    return X_train, Y_train, X_test, Y_test


def model(X_train, Y_train, X_test, Y_test):
    model = Sequential()
    model.add(Input((64,)))
    model.add(Dense(32))
    model.add(Activation("relu"))
    model.add(Dropout({{uniform(0, 0.5)}}))
    model.add(Dense({{choice([16, 32])}}))
    model.add(Activation("relu"))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X_train, Y_train, batch_size=128, epochs=1, verbose=0)
    _, acc = model.evaluate(X_test, Y_test, verbose=0)
    return {"loss": -acc, "status": STATUS_OK, "model": model}


def test_hyperas_mnist_ensemble_runs_with_changed_imports():
    _, _, X_test, Y_test = data()
    trials = Trials()
    ensemble_model = optim.best_ensemble(nb_ensemble_models=2, model=model, data=data,
                                         algo=rand.suggest, max_evals=3, trials=trials,
                                         voting="hard", rseed=3, verbose=False)
    assert isinstance(ensemble_model, VotingModel) and len(ensemble_model) == 2
    preds = ensemble_model.predict(X_test)
    y_test = Y_test.argmax(axis=1)
    assert preds.shape == y_test.shape
    accuracy = accuracy_score(preds, y_test)
    assert 0.0 <= accuracy <= 1.0
    # The two best of the three trained models, best first: their accuracies are the two
    # lowest losses.
    losses = sorted(trials.losses())[:2]
    for member, loss in zip(ensemble_model.model_list, losses):
        assert member.evaluate(X_test, Y_test, verbose=0)[1] == pytest.approx(-loss, abs=1e-4)
    # Hard vote of two models: where they agree, that class; where not, the better model's.
    first, second = (m.predict(X_test, verbose=0).argmax(axis=1)
                     for m in ensemble_model.model_list)
    assert (preds == first).all() and (preds[first == second] == second[first == second]).all()
    soft = VotingModel(ensemble_model.model_list, voting="soft").predict(X_test)
    average = np.mean([m.predict(X_test, verbose=0) for m in ensemble_model.model_list], axis=0)
    assert (soft == average.argmax(axis=1)).all()
    # Hyperas' label names: the called layer.
    best_run, best_model = optim.minimize(model=model, data=data, algo=rand.suggest,
                                          max_evals=1, trials=Trials(), rseed=3,
                                          verbose=False)
    assert set(best_run) == {"Dropout", "Dense"}
    assert isinstance(best_model, keras.Model)
