"""Progressive neural architecture search (PNAS) on scikit-learn's digits.

Runs on a CPU in a few minutes:  python examples/nas_pnas.py

The space is a PNAS cell (``nas.space.cells``): blocks of two inputs, each through an op,
added. ``nas.pnas.suggest`` trains a seeded subset of the one-block cells (``k1``), fits its
predictor ensemble on them, expands the best ``beam`` cells by one block, trains the
expansions the predictor ranks best, and so on up to ``blocks`` blocks. A child names its
trained parent (``misc["from_tid"]``). The best network is exported to ``best_pnas.keras``,
reloaded and evaluated on held-out test images.
"""

import functools
import json
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hpo import Trials, fmin, hp, nas


def main(max_evals=10, epochs=1, path="best_pnas.keras"):
    digits = load_digits()
    x = (digits.images / 16.0)[..., None].astype("float32")  # (1797, 8, 8, 1), pixels in [0, 1]
    y = digits.target
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=600, stratify=y, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=300, stratify=y_rest,
                                                    random_state=0)

    space = {
        "cell": nas.space.cells("cell", input_shape=(8, 8, 1), num_classes=10, blocks=2,
                                ops=["identity", "conv_3x3", "sep_conv_3x3", "max_pool_3x3"], filters=8),
        "learning_rate": hp.loguniform("learning_rate", math.log(3e-3), math.log(2e-2)),
    }
    objective = nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=epochs, batch_size=32)
    # 4 one-block cells, then rounds of the 3 best-ranked expansions of the best 3 cells.
    algo = functools.partial(nas.pnas.suggest, k1=4, beam=3, predictor="ridge")
    trials = Trials()
    fmin(objective, space, algo=algo, max_evals=max_evals, trials=trials, rstate=np.random.default_rng(0))

    for t in trials:
        r, misc = t["result"], t["misc"]
        info = misc["pnas"]
        parent = misc.get("from_tid")
        print(f"trial {t['tid']:2d}: level {info['level']} {info['reason']:7s} rank {info['rank']:3d}  "
              f"val acc {r.get('val_accuracy', float('nan')):.3f}"
              + (f"  from trial {parent}" if parent is not None else ""))
    spearman = json.loads(trials.attachments[nas.pnas.spearman_key("cell")].decode())
    print("predictor Spearman per level:", spearman)

    best = trials.best_trial
    print(f"best: trial {best['tid']}, validation accuracy {best['result']['val_accuracy']:.3f}")
    nas.export_best(trials, path)

    import keras

    model = keras.models.load_model(path)
    probs = keras.ops.convert_to_numpy(model(x_test, training=False))
    print(f"test accuracy of {path}: {(probs.argmax(axis=1) == y_test).mean():.3f}")


if __name__ == "__main__":
    main()
