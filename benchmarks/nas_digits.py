"""Architecture search on load_digits: morphism_bo vs random architectures vs KerasTuner.

Data: ``sklearn.datasets.load_digits``, pixels / 16, shape (8, 8, 1), a fixed stratified
split of 1197 train / 300 validation / 300 test images (``random_state=0``).

Every method trains the same number of models (``--models``) for ``--epochs`` epochs each, and
reports the best validation accuracy (best epoch, as KerasTuner scores trials), the test
accuracy of the best model after a round trip through a ``.keras`` file, the number of models
trained and the wall time:

* ``morphism_bo`` -- ``hpo.nas.morphism_bo.suggest`` on ``{"arch": nas.space.cnn(...),
  "learning_rate": loguniform(1e-4, 1e-2)}``, children inheriting their parent's weights;
* ``random`` -- ``hpo.rand.suggest`` on the same space (random architectures: the initial
  CNN followed by 0-6 random morphisms, trained from scratch);
* ``kt_random`` / ``kt_bayes`` -- KerasTuner ``RandomSearch`` / ``BayesianOptimization``
  over 1-3 conv-BN-ReLU blocks (16/32/64 filters, kernel 3/5, max pooling between blocks),
  global average pooling, dense 32/64/128, dropout 0-0.5, learning rate 1e-4..1e-2
  (BatchNormalization momentum 0.9 as in ``hpo.nas.build_keras``).

Run: ``python benchmarks/nas_digits.py --seeds 5 --models 10 --epochs 5``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, command_line, versions  # noqa: E402

METHODS = ("morphism_bo", "random", "kt_random", "kt_bayes")


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0)[..., None].astype("float32")
    y = digits.target.astype("int64")
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=600, stratify=y, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=300, stratify=y_rest,
                                                    random_state=0)
    return x_train, y_train, x_val, y_val, x_test, y_test


def test_accuracy(path, x_test, y_test):
    import keras

    model = keras.models.load_model(path)
    probs = np.asarray(model(x_test, training=False))
    keras.backend.clear_session()
    return float((probs.argmax(axis=1) == y_test).mean())


def run_hpo(method, seed, args, data, workdir):
    from hpo import Trials, fmin, hp, nas, rand

    x_train, y_train, x_val, y_val, x_test, y_test = data
    space = {
        "arch": nas.space.cnn("arch", (8, 8, 1), 10, max_params=args.max_params),
        "learning_rate": hp.loguniform("learning_rate", math.log(1e-4), math.log(1e-2)),
    }
    objective = nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=args.epochs,
                                   batch_size=32, early_stopping=args.epochs, seed=seed)
    algo = nas.morphism_bo.suggest if method == "morphism_bo" else rand.suggest
    trials = Trials()
    fmin(objective, space, algo=algo, max_evals=args.models, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    path = nas.export_best(trials, os.path.join(workdir, f"{method}_{seed}.keras"))
    best = trials.best_trial["result"]
    ok = [t for t in trials if t["result"].get("status") == "ok"]
    return {
        "best_val_accuracy": best["val_accuracy"],
        "test_accuracy": test_accuracy(path, x_test, y_test),
        "models_trained": len(ok),
        "best_n_params": best["n_params"],
        "inherited": sum(bool(t["result"].get("weights_inherited")) for t in ok),
    }


def build_kt_model(hp):
    import keras

    inputs = keras.Input((8, 8, 1))
    x = inputs
    for i in range(hp.Int("conv_layers", 1, 3)):
        if i:
            x = keras.layers.MaxPooling2D(2, padding="same")(x)
        x = keras.layers.Conv2D(hp.Choice(f"filters_{i}", [16, 32, 64]),
                                hp.Choice(f"kernel_{i}", [3, 5]), padding="same")(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)  # as hpo.nas builds it
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(hp.Choice("dense", [32, 64, 128]), activation="relu")(x)
    x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.125))(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_keras_tuner(method, seed, args, data, workdir):
    import keras
    import keras_tuner as kt

    x_train, y_train, x_val, y_val, x_test, y_test = data
    base = kt.RandomSearch if method == "kt_random" else kt.BayesianOptimization

    class Tuner(base):
        # KerasTuner 1.4 imports tensorboard on every trial with the TensorFlow backend, only
        # to patch TensorBoard callbacks; there are none here and tensorboard need not be
        # installed.
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            return None

    options = {}
    if method == "kt_bayes" and args.kt_initial_points is not None:
        options["num_initial_points"] = args.kt_initial_points
    tuner = Tuner(build_kt_model, objective="val_accuracy", max_trials=args.models, seed=seed,
                  directory=workdir, project_name=f"{method}_{seed}", overwrite=True, **options)
    tuner.search(x_train, y_train, epochs=args.epochs, batch_size=32,
                 validation_data=(x_val, y_val), verbose=0)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    path = os.path.join(workdir, f"{method}_{seed}.keras")
    model.save(path)
    n_params = model.count_params()
    keras.backend.clear_session()
    finished = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    return {
        "best_val_accuracy": float(best_trial.score),
        "test_accuracy": test_accuracy(path, x_test, y_test),
        "models_trained": len(finished),
        "best_n_params": n_params,
    }


def summarize(runs):
    rows = []
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        row = {"method": method, "runs": len(mine)}
        for key in ("best_val_accuracy", "test_accuracy", "models_trained", "wall_seconds", "best_n_params"):
            values = np.array([r[key] for r in mine], dtype=float)
            row[key] = {"mean": float(values.mean()), "std": float(values.std())}
        rows.append(row)
    return rows


def markdown(summary, args):
    lines = [
        f"load_digits (pixels/16, 8x8x1), stratified split 1197 train / 300 validation / 300 test "
        f"(random_state=0); {args.models} models per run, {args.epochs} epochs each (batch 32, Adam), "
        f"seeds {', '.join(map(str, range(args.seeds)))}. Mean ± std over seeds.",
        "",
        "| method | runs | best val accuracy | test accuracy (exported best model) | models trained per run | wall time per run (s) | params of best |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        cell = lambda k, f="{:.4f}": f"{f.format(row[k]['mean'])} ± {f.format(row[k]['std'])}"  # noqa: E731
        lines.append(
            f"| {row['method']} | {row['runs']} | {cell('best_val_accuracy')} | {cell('test_accuracy')} | "
            f"{row['models_trained']['mean']:.0f} | {cell('wall_seconds', '{:.0f}')} | "
            f"{row['best_n_params']['mean']:.0f} |"
        )
    lines += [
        "",
        "`morphism_bo` and `random` search the same space (`nas.space.cnn` + learning rate); "
        "`random` draws the initial CNN followed by 0-6 random morphisms and trains from scratch. "
        "KerasTuner searches 1-3 conv-BN-ReLU blocks (16/32/64 filters, kernel 3/5), dense "
        "32/64/128, dropout 0-0.5 and learning rate 1e-4..1e-2. All methods report the best "
        "epoch's validation accuracy (early-stopping weights restored / KerasTuner's checkpoint).",
        ("KerasTuner's `BayesianOptimization` starts with max(3 × number of hyperparameters, 3) "
         "random trials by default (18 or more here); when that exceeds the budget of models it "
         "runs the same trials as `RandomSearch` with the same seed."
         if getattr(args, "kt_initial_points", None) is None else
         f"KerasTuner's `BayesianOptimization` ran with num_initial_points={args.kt_initial_points}, "
         f"so its Gaussian process chose the remaining models."),
        "Wall times include the "
        "searches' own overhead and depend on the size of the networks each method trains; the "
        "machine was shared with other work while this ran.",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-params", type=int, default=200_000)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--name", default="nas_digits")
    parser.add_argument("--kt-initial-points", type=int, default=None,
                        help="num_initial_points of KerasTuner's BayesianOptimization "
                             "(default: KerasTuner's own, 3 x number of hyperparameters)")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the Markdown from the runs already in the JSON file")
    args = parser.parse_args(argv)
    if args.render:
        payload = json.loads((RESULTS / f"{args.name}.json").read_text())
        saved = argparse.Namespace(**payload["args"])
        saved.seeds = len({r["seed"] for r in payload["runs"]})
        write_markdown(payload["command"], payload["versions"], summarize(payload["runs"]), saved)
        return
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    import keras

    data = load_data()
    runs = []
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        for seed in range(args.seeds):
            for method in methods:
                keras.utils.set_random_seed(seed)  # a benchmark script may own the global seeds
                start = time.monotonic()
                run = (run_hpo if method in ("morphism_bo", "random") else run_keras_tuner)(
                    method, seed, args, data, workdir)
                run.update(method=method, seed=seed, wall_seconds=time.monotonic() - start)
                runs.append(run)
                print(json.dumps(run), flush=True)
                summary = summarize(runs)
                payload = {"command": command_line(), "versions": versions(), "args": vars(args),
                           "runs": runs, "summary": summary}
                (RESULTS / f"{args.name}.json").write_text(json.dumps(payload, indent=2))
    write_markdown(command_line(), versions(), summary, args)


def write_markdown(command, versions_, summary, args):
    md = f"Command: `{command}`\n\nVersions: " + ", ".join(
        f"{k} {v}" for k, v in versions_.items()) + "\n\n" + markdown(summary, args) + "\n"
    (RESULTS / f"{args.name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
