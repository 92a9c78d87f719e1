"""Weight-sharing NAS on scikit-learn's digits: ENAS, random one-shot, DARTS and NASNet-RL.

Runs on a CPU in a few minutes:  python examples/nas_oneshot.py

Every strategy searches the same PNAS cell space (``nas.space.cells`` with 2 blocks) and ends
the same way: a network trained from scratch, exported to a ``.keras`` file, reloaded, and
scored on held-out test images.

* ENAS: ``nas.enas.suggest`` proposes children, ``nas.SharedWeightsObjective`` trains each a
  few minibatches on its path through one shared supernet and scores it on validation data;
  ``nas.oneshot.finalize`` retrains the best children from scratch and exports the best.
* random one-shot: the same, with uniform children (``nas.oneshot.random.suggest``).
* DARTS: ``nas.darts.search`` learns a softmax mixture of ops and derives one cell, trained by
  an ordinary ``fmin`` run through ``points_to_evaluate``.
* NASNet-RL: the ENAS controller (``nas.nasnet.suggest``) with every child trained from
  scratch by ``nas.KerasObjective``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hpo import Trials, fmin, nas


def load():
    digits = load_digits()
    x = (digits.images / 16.0)[..., None].astype("float32")  # (1797, 8, 8, 1), pixels in [0, 1]
    y = digits.target
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=600, stratify=y, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=300, stratify=y_rest,
                                                    random_state=0)
    return x_train, y_train, x_val, y_val, x_test, y_test


def test_accuracy(path, x_test, y_test):
    import keras

    model = keras.models.load_model(path)
    probs = keras.ops.convert_to_numpy(model(x_test, training=False))
    return float((probs.argmax(axis=1) == y_test).mean())


def one_shot(name, algo, space, data, children, retrain_epochs):
    x_train, y_train, x_val, y_val = data[:4]
    shared = nas.SharedWeightsObjective(x_train, y_train, x_val, y_val, train_steps=20, batch_size=32)
    trials = Trials()
    fmin(shared, space, algo=algo, max_evals=children, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)
    path = f"best_{name}.keras"
    report = nas.oneshot.finalize(trials, nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=retrain_epochs),
                                  path, top_k=2, shared=shared)
    for child in report["children"]:
        print(f"  {name} child of trial {child['tid']:2d}: shared-weight accuracy {child['shared_accuracy']:.3f}, "
              f"retrained {child['retrained_accuracy']:.3f}  {child['cell']}")
    return path


def main(children=40, retrain_epochs=3):
    data = load()
    x_train, y_train, x_val, y_val, x_test, y_test = data
    cells = nas.space.cells("cell", input_shape=(8, 8, 1), num_classes=10, blocks=2,
                            ops=["identity", "conv_3x3", "sep_conv_3x3", "max_pool_3x3"], filters=8)
    space = {"cell": cells}
    paths = {}
    paths["enas"] = one_shot("enas", nas.enas.suggest, space, data, children, retrain_epochs)
    paths["random_one_shot"] = one_shot("random_one_shot", nas.oneshot.random.suggest, space, data, children,
                                        retrain_epochs)

    cell = nas.darts.search(x_train, y_train, x_val, y_val, cells, epochs=3, batch_size=32)
    print(f"  darts derived {cell!r}")
    trials = Trials()
    fmin(nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=retrain_epochs), space, max_evals=1,
         points_to_evaluate=[{"cell": cell.to_json()}], trials=trials, show_progressbar=False)
    paths["darts"] = nas.export_best(trials, "best_darts.keras")

    trials = Trials()
    fmin(nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=retrain_epochs), space,
         algo=nas.nasnet.suggest, max_evals=4, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)
    paths["nasnet"] = nas.export_best(trials, "best_nasnet.keras")

    for name, path in paths.items():
        print(f"{name:16s} test accuracy of {path}: {test_accuracy(path, x_test, y_test):.3f}")


if __name__ == "__main__":
    main()
