"""Search a Keras network for scikit-learn's digits with an hpo template.

The model function below is ordinary Keras code with ``<<...>>`` placeholders where a value
is to be searched: the number of hidden layers, their width and activation, dropout, the
batch size, and a learning rate that is searched only when the default one is not chosen
(a nested, conditional placeholder). ``minimize`` compiles it into a search space and an
objective, runs the search, and returns the best values and the best trained model.

    python examples/template_digits.py                  # 20 trials, about a minute on CPU
    python examples/template_digits.py --max-evals 50 --seed 1

The same template saved as a file runs from the command line with ``hpo run FILE.py``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from hpo import Trials  # noqa: E402
from hpo.template import compile_template, minimize  # noqa: E402

TEMPLATE = '''
import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0)
    return x_train, y_train, x_val, y_val


def model(x_train, y_train, x_val, y_val):
    net = keras.Sequential([keras.Input(shape=(64,))])
    for _ in range(<<choice([1, 2, 3], label="hidden_layers")>>):
        net.add(keras.layers.Dense(units=<<choice([32, 64, 128])>>,
                                   activation=<<choice(["relu", "tanh"])>>))
    net.add(keras.layers.Dropout(<<uniform(0.0, 0.5)>>))
    net.add(keras.layers.Dense(10, activation="softmax"))
    learning_rate = <<choice([0.001, <<loguniform(-9, -3, label="custom_lr")>>])>>
    net.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    net.fit(x_train, y_train, epochs=5, batch_size=<<choice([32, 64, 128])>>, verbose=0)
    val_loss, val_accuracy = net.evaluate(x_val, y_val, verbose=0)
    # The loss is minimized; "model" is kept while it is the best so far.
    return {"loss": val_loss, "status": "ok", "val_accuracy": val_accuracy, "model": net}
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-evals", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default="template_digits.best.keras")
    args = parser.parse_args()

    template = compile_template(TEMPLATE)
    print("searching:", ", ".join(f"{label} (line {line})"
                                  for label, line in template.labels.items()))
    trials = Trials()
    best_run, best_model = minimize(template, max_evals=args.max_evals, trials=trials,
                                    rstate=np.random.default_rng(args.seed))
    best = trials.best_trial["result"]
    print(f"best validation loss {best['loss']:.4f}, accuracy {best['val_accuracy']:.4f}")
    for label, value in best_run.items():
        print(f"  {label} = {value!r}")
    best_model.save(args.save)
    print(f"best model saved to {args.save}")


if __name__ == "__main__":
    main()
