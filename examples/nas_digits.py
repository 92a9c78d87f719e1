"""Architecture search on scikit-learn's digits with network morphism + Bayesian optimization.

Runs on a CPU in a few minutes:  python examples/nas_digits.py

The search starts from a small CNN, and every later network is a morphism (deeper, wider,
with a skip connection) of one already trained, starting from its trained weights. The best
network is written to ``best_digits.keras`` and evaluated on held-out test images.
"""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hpo import Trials, fmin, hp, nas


def main(max_evals=10, epochs=5, path="best_digits.keras"):
    digits = load_digits()
    x = (digits.images / 16.0)[..., None].astype("float32")  # (1797, 8, 8, 1), pixels in [0, 1]
    y = digits.target
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=600, stratify=y, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=300, stratify=y_rest,
                                                    random_state=0)

    space = {
        "arch": nas.space.cnn("arch", input_shape=(8, 8, 1), num_classes=10, max_params=200_000),
        "learning_rate": hp.loguniform("learning_rate", math.log(1e-4), math.log(1e-2)),
    }
    objective = nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=epochs, batch_size=32,
                                   early_stopping=epochs)
    trials = Trials()
    fmin(objective, space, algo=nas.morphism_bo.suggest, max_evals=max_evals, trials=trials,
         rstate=np.random.default_rng(0))

    for t in trials:
        r, misc = t["result"], t["misc"]
        ops = ", ".join(op["op"] for op in misc.get("nas_ops", [])) or "initial"
        parent = misc.get("from_tid")
        print(f"trial {t['tid']:2d}: val acc {r.get('val_accuracy', float('nan')):.3f}  "
              f"params {r.get('n_params', 0):6d}  "
              f"{'from trial %d by %s' % (parent, ops) if parent is not None else ops}")

    best = trials.best_trial
    print(f"best: trial {best['tid']}, validation accuracy {best['result']['val_accuracy']:.3f}")
    nas.export_best(trials, path)

    import keras

    model = keras.models.load_model(path)
    probs = keras.ops.convert_to_numpy(model(x_test, training=False))
    print(f"test accuracy of {path}: {(probs.argmax(axis=1) == y_test).mean():.3f}")


if __name__ == "__main__":
    main()
