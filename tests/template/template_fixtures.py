"""Shared pieces of the template tests: small data, template sources, subprocess helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# This file sits in tests/template/; the repository root is two levels up.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(args, cwd, timeout=240, env=None):
    """Run ``python args...`` in a fresh process; return the CompletedProcess."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def write(path, text):
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture(scope="session")
def digits():
    """load_digits split 1400/397, scaled to [0, 1], as float32."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:1400], y[:1400], x[1400:], y[1400:]


# A template with five placeholders: a nested conditional, a searched number of layers, every
# kind of derived label. Small enough to train in well under a second per trial.
DIGITS_TEMPLATE = '''
import keras
from keras import layers as L
from sklearn.datasets import load_digits

UNITS = [8, 16]


def data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]
    return x_train, y_train, x_val, y_val


def model(x_val, y_val, x_train, y_train):
    # the order of the parameters above differs from data()'s on purpose
    net = keras.Sequential([keras.Input((64,))])
    for _ in range(<<choice([1, 2, 3])>>):
        net.add(L.Dense(units=<<choice(UNITS)>>, activation="relu"))
    net.add(L.Dropout(<<uniform(0.0, 0.3)>>))
    net.add(L.Dense(10, activation="softmax"))
    lr = <<choice([<<loguniform(-6, -2)>>, 0.01])>>
    net.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    net.fit(x_train, y_train, epochs=1, batch_size=<<choice([64, 128], label="batch")>>,
            verbose=0)
    loss = net.evaluate(x_val, y_val, verbose=0)
    return {"loss": loss, "status": "ok", "model": net}
'''

# Hyperas' README example, adapted to Keras 3 and load_digits (smaller layers, 3 trials); the
# imports of hyperas and hyperopt are changed to hpo's.
HYPERAS_README = '''
from __future__ import print_function

import numpy as np

from hpo import Trials, STATUS_OK, tpe
from sklearn.datasets import load_digits
from keras.layers import Dense, Dropout, Activation
from keras.models import Sequential
from keras.utils import to_categorical

from hpo.template import optim
from hpo.template.distributions import choice, uniform


def data():
    """
    Data providing function:

    This function is separated from create_model() so that hyperopt
    won't reload data for each evaluation run.
    """
    x, y = load_digits(return_X_y=True)
    x = x.astype('float32') / 16
    nb_classes = 10
    x_train, x_test = x[:1400], x[1400:]
    y_train = to_categorical(y[:1400], nb_classes)
    y_test = to_categorical(y[1400:], nb_classes)
    return x_train, y_train, x_test, y_test


def create_model(x_train, y_train, x_test, y_test):
    """
    Model providing function:

    Create Keras model with double curly brackets dropped-in as needed.
    Return value has to be a valid python dictionary with two customary keys:
        - loss: Specify a numeric evaluation metric to be minimized
        - status: Just use STATUS_OK and see hyperopt documentation if not feasible
    The last one is optional, though recommended, namely:
        - model: specify the model just created so that we can later use it again.
    """
    model = Sequential()
    model.add(Dense(64, input_shape=(64,)))
    model.add(Activation('relu'))
    model.add(Dropout({{uniform(0, 1)}}))
    model.add(Dense({{choice([32, 64, 128])}}))
    model.add(Activation({{choice(['relu', 'sigmoid'])}}))
    model.add(Dropout({{uniform(0, 1)}}))

    # If we choose 'four', add an additional fourth layer
    if {{choice(['three', 'four'])}} == 'four':
        model.add(Dense(100))

        # We can also choose between complete sets of layers

        model.add({{choice([Dropout(0.5), Activation('linear')])}})
        model.add(Activation('relu'))

    model.add(Dense(10))
    model.add(Activation('softmax'))

    model.compile(loss='categorical_crossentropy', metrics=['accuracy'],
                  optimizer={{choice(['rmsprop', 'adam', 'sgd'])}})

    result = model.fit(x_train, y_train,
              batch_size={{choice([64, 128])}},
              epochs=2,
              verbose=2,
              validation_split=0.1)
    #get the highest validation accuracy of the training epochs
    validation_acc = np.amax(result.history['val_accuracy'])
    print('Best validation acc of epoch:', validation_acc)
    return {'loss': -validation_acc, 'status': STATUS_OK, 'model': model}


if __name__ == '__main__':
    best_run, best_model = optim.minimize(model=create_model,
                                          data=data,
                                          algo=tpe.suggest,
                                          max_evals=3,
                                          trials=Trials())
    X_train, Y_train, X_test, Y_test = data()
    print("Evalutation of best performing model:")
    print(best_model.evaluate(X_test, Y_test))
    print("Best performing model chosen hyper-parameters:")
    print(best_run)
'''
