"""A Hyperas program: a Keras model with {{choice}} / {{uniform}}, optim.minimize on digits."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hyperas import optim  # noqa: E402
from hyperas.distributions import choice, uniform  # noqa: E402,F401
from hyperopt import STATUS_OK, Trials, tpe  # noqa: E402


def data():
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    y = np.eye(10, dtype="float32")[y]
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    return x_train, y_train, x_test, y_test


def model(x_train, y_train, x_test, y_test):
    from keras.layers import Dense, Dropout, Input
    from keras.models import Sequential

    net = Sequential()
    net.add(Input((64,)))
    net.add(Dense({{choice([16, 32, 64])}}, activation="relu"))
    net.add(Dropout({{uniform(0, 0.5)}}))
    net.add(Dense(10, activation="softmax"))
    net.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    net.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    _, acc = net.evaluate(x_test, y_test, verbose=0)
    return {"loss": -acc, "status": STATUS_OK, "model": net}


if __name__ == "__main__":
    trials = Trials()
    best_run, best_model = optim.minimize(model=model, data=data, algo=tpe.suggest,
                                          max_evals=3, trials=trials, verbose=False)
    assert best_model is not None and len(best_run) == 2, best_run
    print("BEST_RUN", best_run)
    print("BEST_LOSS", min(trials.losses()))
