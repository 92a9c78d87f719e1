"""Architecture search on Animal-Shape: a fixed CNN vs hpo's NAS searches vs KerasTuner.

Data (``benchmarks/animal_data.py``): the 10,000 Animal-Shape silhouettes (10 classes) of the
``animal-shape-mnist`` package, exact duplicate images dropped, a stratified split of
6,216 train / 1,500 validation / 2,000 test images (``random_state=0``), 2x2 average pooling
to 14x14, pixels in [0, 1].

Every search trains ``--models`` models for ``--epochs`` epochs each (batch 32, Adam) on the
train split, scores them on the validation split (best epoch's weights restored), and its best
model is evaluated on the test split after a round trip through a ``.keras`` file
(hpo: ``nas.export_best`` + ``keras.models.load_model``; KerasTuner: ``get_best_models``).
Methods:

* ``fixed_cnn_<E>ep`` -- no search: 3 blocks of conv3x3-BN-ReLU-maxpool (32/64/128 filters),
  global average pooling, softmax; one model per seed trained for E epochs (``--fixed-epochs``);
* ``random_cells`` -- ``hpo.rand.suggest`` on ``nas.space.cells(...)`` + learning rate;
* ``pnas`` -- ``hpo.nas.pnas.suggest`` on the same space (``--k1`` one-block cells, then
  ``--beam`` expansions per level; ridge predictor);
* ``morphism_bo`` -- ``hpo.nas.morphism_bo.suggest`` on ``nas.space.cnn(...)`` + learning rate;
* ``kt_random`` / ``kt_bayes`` / ``kt_hyperband`` -- KerasTuner ``RandomSearch``,
  ``BayesianOptimization(num_initial_points=3)`` and ``Hyperband`` over 1-3 conv-BN-ReLU
  blocks (16/32/64/128 filters, kernel 3/5, max pooling between blocks), global average
  pooling, dense 32/64/128, learning rate 1e-4..1e-2. Hyperband has no model budget; it runs
  ``--hyperband-iterations`` iterations of ``max_epochs=--epochs``, ``factor=3`` and its epochs
  are counted.

BatchNormalization momentum is 0.9 everywhere (hpo's ``keras_build.BN_MOMENTUM``; the fixed
CNN and the KerasTuner models are built with it).

Each (method, seed) run is cached as JSON under ``--cache-dir``; a rerun with the same settings
skips it. Results: ``benchmarks/results/<--name>.md`` and ``.json``.

Run: ``nice -n 10 python benchmarks/nas_animal.py --seeds 3 --models 10 --epochs 3``.
"""

from __future__ import annotations

import argparse
import functools
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
from common import RESULTS, write_results  # noqa: E402

HPO_METHODS = ("random_cells", "pnas", "morphism_bo")
KT_METHODS = ("kt_random", "kt_bayes", "kt_hyperband")
BN_MOMENTUM = 0.9
INPUT_SHAPE = (14, 14, 1)
BATCH = 32


def load_data():
    import animal_data

    return animal_data.load(pool=2)


def accuracy_of(model, x, y):
    import keras

    probs = keras.ops.convert_to_numpy(model.predict(x, batch_size=256, verbose=0))
    return float((probs.argmax(axis=1) == y).mean())


def test_accuracy(path, x_test, y_test):
    import keras

    model = keras.models.load_model(path)
    acc = accuracy_of(model, x_test, y_test)
    keras.backend.clear_session()
    return acc


# -- fixed CNN --------------------------------------------------------------------------------


def build_fixed_cnn(seed):
    import keras

    init = functools.partial(keras.initializers.GlorotUniform)
    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for i, filters in enumerate((32, 64, 128)):
        x = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=init(seed=seed * 100 + i))(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer=init(seed=seed * 100 + 9))(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_fixed(epochs, seed, args, data, workdir):
    import keras

    x_train, y_train, x_val, y_val, x_test, y_test = data
    model = build_fixed_cnn(seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=epochs, restore_best_weights=True)
    model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, validation_data=(x_val, y_val),
              callbacks=[stop], verbose=0)
    path = os.path.join(workdir, f"fixed_{epochs}_{seed}.keras")
    val = accuracy_of(model, x_val, y_val)
    model.save(path)
    n_params = model.count_params()
    keras.backend.clear_session()
    return {"best_val_accuracy": val, "test_accuracy": test_accuracy(path, x_test, y_test),
            "models_trained": 1, "epochs_trained": epochs, "best_n_params": n_params}


# -- hpo --------------------------------------------------------------------------------------


def run_hpo(method, seed, args, data, workdir):
    from hpo import Trials, fmin, hp, nas, rand

    x_train, y_train, x_val, y_val, x_test, y_test = data
    lr = hp.loguniform("learning_rate", math.log(1e-4), math.log(1e-2))
    if method == "morphism_bo":
        space = {"arch": nas.space.cnn("arch", INPUT_SHAPE, 10, max_params=args.max_params), "learning_rate": lr}
        algo = nas.morphism_bo.suggest
    else:
        space = {"cell": nas.space.cells("cell", INPUT_SHAPE, 10, blocks=args.blocks, filters=args.filters,
                                         max_params=args.max_params),
                 "learning_rate": lr}
        algo = (functools.partial(nas.pnas.suggest, k1=args.k1, beam=args.beam, predictor="ridge")
                if method == "pnas" else rand.suggest)
    objective = nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=args.epochs, batch_size=BATCH,
                                   early_stopping=args.epochs, seed=seed)
    trials = Trials()
    fmin(objective, space, algo=algo, max_evals=args.models, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    path = nas.export_best(trials, os.path.join(workdir, f"{method}_{seed}.keras"))
    best = trials.best_trial
    ok = [t for t in trials if t["result"].get("status") == "ok"]
    run = {
        "best_val_accuracy": best["result"]["val_accuracy"],
        "test_accuracy": test_accuracy(path, x_test, y_test),
        "models_trained": len(ok),
        "epochs_trained": sum(int(t["result"].get("epochs", 0)) for t in trials),
        "best_n_params": best["result"]["n_params"],
        "inherited": sum(bool(t["result"].get("weights_inherited")) for t in ok),
        "failed": len(trials) - len(ok),
    }
    if method != "morphism_bo":
        cell = nas.Cell.from_json(best["misc"]["vals"]["cell"][0])
        run["best_cell"] = [list(block) for block in cell.blocks]
        if method == "pnas":
            run["levels"] = [t["misc"]["pnas"]["level"] for t in trials]
    return run


# -- KerasTuner -------------------------------------------------------------------------------


def build_kt_model(hp):
    import keras

    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for i in range(hp.Int("conv_blocks", 1, 3)):
        if i:
            x = keras.layers.MaxPooling2D(2, padding="same")(x)
        x = keras.layers.Conv2D(hp.Choice(f"filters_{i}", [16, 32, 64, 128]),
                                hp.Choice(f"kernel_{i}", [3, 5]), padding="same")(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(hp.Choice("dense", [32, 64, 128]), activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_keras_tuner(method, seed, args, data, workdir):
    import keras
    import keras_tuner as kt

    x_train, y_train, x_val, y_val, x_test, y_test = data
    base = {"kt_random": kt.RandomSearch, "kt_bayes": kt.BayesianOptimization,
            "kt_hyperband": kt.Hyperband}[method]

    class Tuner(base):
        # KerasTuner 1.4 imports tensorboard on every trial with the TensorFlow backend, only
        # to patch TensorBoard callbacks; there are none here and tensorboard need not be
        # installed.
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            return None

    if method == "kt_hyperband":
        options = {"max_epochs": args.epochs, "factor": 3, "hyperband_iterations": args.hyperband_iterations}
    else:
        options = {"max_trials": args.models}
        if method == "kt_bayes":
            options["num_initial_points"] = 3
    tuner = Tuner(build_kt_model, objective="val_accuracy", seed=seed, directory=workdir,
                  project_name=f"{method}_{seed}", overwrite=True, **options)
    tuner.search(x_train, y_train, epochs=args.epochs, batch_size=BATCH,
                 validation_data=(x_val, y_val), verbose=0)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    path = os.path.join(workdir, f"{method}_{seed}.keras")
    model.save(path)
    n_params = model.count_params()
    keras.backend.clear_session()
    finished = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    if method == "kt_hyperband":
        # A promoted trial resumes its parent's checkpoint at tuner/initial_epoch.
        epochs = sum(t.hyperparameters.get("tuner/epochs") - t.hyperparameters.get("tuner/initial_epoch")
                     for t in finished)
        from_scratch = sum(t.hyperparameters.get("tuner/initial_epoch") == 0 for t in finished)
    else:
        epochs, from_scratch = args.epochs * len(finished), len(finished)
    return {
        "best_val_accuracy": float(best_trial.score),
        "test_accuracy": test_accuracy(path, x_test, y_test),
        "models_trained": len(finished),
        "models_from_scratch": from_scratch,
        "epochs_trained": int(epochs),
        "best_n_params": n_params,
    }


# -- results ----------------------------------------------------------------------------------


def method_names(args):
    return [f"fixed_cnn_{e}ep" for e in args.fixed_epochs] + list(HPO_METHODS) + list(KT_METHODS)


def summarize(runs, names):
    rows = []
    for method in names:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        row = {"method": method, "runs": len(mine), "seeds": sorted(r["seed"] for r in mine)}
        for key in ("best_val_accuracy", "test_accuracy", "models_trained", "epochs_trained",
                    "wall_seconds", "best_n_params"):
            values = np.array([r[key] for r in mine], dtype=float)
            row[key] = {"mean": float(values.mean()), "std": float(values.std())}
        rows.append(row)
    return rows


def compare(a, b):
    """'better' / 'worse' when the mean test accuracies differ by more than the larger seed std."""
    diff = a["test_accuracy"]["mean"] - b["test_accuracy"]["mean"]
    margin = max(a["test_accuracy"]["std"], b["test_accuracy"]["std"])
    return diff, margin, ("better" if diff > margin else "worse" if -diff > margin else "within the seed std")


def markdown(summary, args):
    by = {row["method"]: row for row in summary}
    cell = lambda row, k, f="{:.4f}": f"{f.format(row[k]['mean'])} ± {f.format(row[k]['std'])}"  # noqa: E731
    lines = [
        "Animal-Shape (`animal-shape-mnist` 0.39): 10,000 28×28 silhouettes of 10 classes, "
        f"{args.duplicates} exact duplicate images dropped, stratified split 6,216 train / 1,500 "
        "validation / 2,000 test (random_state=0), **2×2 average-pooled to 14×14**, pixels in [0, 1]. "
        f"Every search trains {args.models} models for {args.epochs} epochs each (batch 32, Adam), "
        "selects on validation accuracy (best epoch's weights restored), and its best model is "
        "evaluated on the test split after a round trip through a `.keras` file. "
        "Mean ± std (population std) over seeds. "
        + ", ".join(f"{k} {v}" for k, v in args.libraries.items()) + ".",
        "",
        "| method | seeds | best val accuracy | test accuracy | models trained | epochs trained | "
        "wall time per run (s) | params of best |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        lines.append(
            f"| {row['method']} | {', '.join(map(str, row['seeds']))} | {cell(row, 'best_val_accuracy')} | "
            f"**{cell(row, 'test_accuracy')}** | {row['models_trained']['mean']:.1f} | "
            f"{row['epochs_trained']['mean']:.0f} | {cell(row, 'wall_seconds', '{:.0f}')} | "
            f"{row['best_n_params']['mean']:.0f} |")
    lines += ["", "### Verdicts", "",
              "A method beats another only when its mean test accuracy is higher by more than the "
              "larger of the two seed standard deviations."]
    fixed = [f"fixed_cnn_{e}ep" for e in args.fixed_epochs if f"fixed_cnn_{e}ep" in by]
    for name in [r["method"] for r in summary if not r["method"].startswith("fixed_cnn")]:
        for ref in fixed:
            diff, margin, verdict = compare(by[name], by[ref])
            word = {"better": "**beats**", "worse": "is **worse than**",
                    "within the seed std": "does **not** beat"}[verdict]
            tail = "" if verdict != "within the seed std" else " (difference within the seed std)"
            lines.append(f"- `{name}` {word} `{ref}`{tail}: {diff:+.4f} (margin {margin:.4f}).")
    if "pnas" in by:
        for ref in ("random_cells", "kt_bayes"):
            if ref in by:
                diff, margin, verdict = compare(by["pnas"], by[ref])
                at_least = "is" if diff >= 0 else "is **not**"
                lines.append(f"- `pnas`'s mean test accuracy {at_least} at least `{ref}`'s: {diff:+.4f} "
                             f"({verdict}, margin {margin:.4f}).")
    hb = by.get("kt_hyperband")
    lines += [
        "",
        "### Setup",
        "",
        "- `fixed_cnn_*`: 3 × (conv3×3-BN-ReLU-maxpool2) with 32/64/128 filters, global average pooling, "
        "softmax; Adam 1e-3; one model per seed, best validation epoch restored.",
        f"- `random_cells` and `pnas` search the same space: `nas.space.cells(\"cell\", (14, 14, 1), 10, "
        f"blocks={args.blocks}, filters={args.filters}, max_params={args.max_params})` (8 built-in ops, "
        "lookback 2, 2 stages of 1 cell) + learning rate loguniform(1e-4, 1e-2). "
        f"`pnas`: k1={args.k1}, beam={args.beam}, predictor='ridge': {args.k1} of the 136 one-block cells, "
        f"then rounds of {args.beam} cells one block larger, each warm-started from its trained parent "
        f"(models per level: {args.pnas_levels}). `random_cells` draws 1–{args.blocks} blocks uniformly and trains "
        "from scratch.",
        f"- `morphism_bo`: `nas.space.cnn(\"arch\", (14, 14, 1), 10, max_params={args.max_params})` + the "
        "same learning rate; children inherit their parent's weights through network morphisms.",
        "- KerasTuner: 1–3 conv-BN-ReLU blocks (16/32/64/128 filters, kernel 3/5, max pooling between "
        "blocks), global average pooling, dense 32/64/128, learning rate 1e-4..1e-2 (log). "
        "`BayesianOptimization` with num_initial_points=3. "
        + (f"`Hyperband`: max_epochs={args.epochs}, factor=3, hyperband_iterations={args.hyperband_iterations}: "
           f"{hb['models_trained']['mean']:.0f} trials per run "
           f"({hb['epochs_trained']['mean']:.0f} epochs in all; a promoted trial resumes its parent's "
           "checkpoint, so its epochs count once)." if hb else ""),
        f"- BatchNormalization momentum 0.9 in every model: hpo's networks use "
        f"`hpo.nas.keras_build.BN_MOMENTUM` = {args.hpo_bn_momentum} (not configurable), the fixed CNN "
        "and the KerasTuner models are built with 0.9.",
        "- Wall times include each search's own overhead and depend on the networks it trains; "
        "runs were made one at a time under `nice -n 10` on 2 shared CPU cores.",
    ]
    if args.notes:
        lines += [f"- {args.notes}"]
    return "\n".join(lines)


def library_versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("keras", "tensorflow-cpu", "tensorflow", "keras-tuner", "animal-shape-mnist", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def cache_key(method, args):
    keys = ("models", "epochs", "max_params", "blocks", "filters")
    key = {k: getattr(args, k) for k in keys}
    if method == "pnas":
        key.update(k1=args.k1, beam=args.beam)
    if method == "kt_hyperband":
        key.update(hyperband_iterations=args.hyperband_iterations)
    return key


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fixed-epochs", default="3,10", help="epochs of the fixed CNN rows")
    parser.add_argument("--max-params", type=int, default=200_000)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--k1", type=int, default=6)
    parser.add_argument("--beam", type=int, default=2)
    parser.add_argument("--hyperband-iterations", type=int, default=3)
    parser.add_argument("--methods", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--name", default="nas_animal")
    parser.add_argument("--cache-dir", default=str(RESULTS / "runs" / "nas_animal"))
    parser.add_argument("--notes", default="", help="a sentence added to the Markdown")
    parser.add_argument("--render", action="store_true", help="only rewrite the results from the cached runs")
    args = parser.parse_args(argv)
    args.fixed_epochs = [int(e) for e in args.fixed_epochs.split(",") if e]
    names = method_names(args)
    methods = names if args.methods == "all" else [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(names)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {names}")

    import animal_data
    from hpo.nas import keras_build

    args.hpo_bn_momentum = keras_build.BN_MOMENTUM
    args.libraries = library_versions()
    args.duplicates = animal_data.deduplicate(*animal_data.load_raw())[2]
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)

    def cached(method, seed):
        path = cache / f"{method}_seed{seed}.json"
        if path.exists():
            run = json.loads(path.read_text())
            if run.get("settings") == cache_key(method, args):
                return run
        return None

    def publish():
        runs = [r for s in range(args.seeds) for m in methods if (r := cached(m, s))]
        summary = summarize(runs, methods)
        pnas_levels = [r["levels"] for r in runs if r["method"] == "pnas"]
        args.pnas_levels = ", ".join(sorted({" + ".join(str(run.count(lv)) for lv in sorted(set(run)))
                                              for run in pnas_levels})) or "none yet"
        settings = {k: v for k, v in vars(args).items() if k not in ("render", "cache_dir")}
        write_results(args.name, {"args": settings, "runs": runs, "summary": summary},
                      markdown(summary, args))
        return summary

    if args.render:
        # The results record the command that produced the runs, not this re-rendering.
        sys.argv = [a for a in sys.argv if a != "--render"]
        print(markdown(publish(), args))
        return
    import keras

    data = load_data()
    with tempfile.TemporaryDirectory() as workdir:
        for seed in range(args.seeds):
            for method in methods:
                if cached(method, seed):
                    continue
                keras.utils.set_random_seed(seed)  # a benchmark script may own the global seeds
                start = time.monotonic()
                if method.startswith("fixed_cnn_"):
                    run = run_fixed(int(method[len("fixed_cnn_"):-2]), seed, args, data, workdir)
                elif method in HPO_METHODS:
                    run = run_hpo(method, seed, args, data, workdir)
                else:
                    run = run_keras_tuner(method, seed, args, data, workdir)
                run.update(method=method, seed=seed, wall_seconds=time.monotonic() - start,
                           settings=cache_key(method, args))
                (cache / f"{method}_seed{seed}.json").write_text(json.dumps(run, indent=2, default=float))
                print(json.dumps(run, default=float), flush=True)
                publish()
    print(markdown(publish(), args))


if __name__ == "__main__":
    main()
