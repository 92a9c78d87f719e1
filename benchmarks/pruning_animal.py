"""Pruning on Animal-Shape at equal wall time: hpo's pruners vs Optuna's vs KerasTuner Hyperband.

Data (``benchmarks/animal_data.py``, as ``nas_animal.py``): the Animal-Shape silhouettes,
duplicates dropped, 6,216 train / 1,500 validation / 2,000 test, 2x2 average-pooled to 14x14.

Every run has the same wall-time budget (``--budget`` seconds, from before the search object
is made to the last epoch that ends in time) and trains CNNs of one space
(``pruning_methods.SPACE``: 1-3 conv-BN(momentum 0.9)-ReLU blocks, 8/16/32 first filters
doubling up to 64, kernel 3/5, dense 32/64/128, dropout, learning rate; batch 64, Adam) for up
to ``--max-epochs`` epochs each. Methods:

* ``hpo_tpe`` -- ``tpe.suggest``, no pruner;
* ``hpo_tpe_median`` / ``hpo_tpe_asha`` / ``hpo_tpe_hyperband`` -- ``tpe.suggest`` with
  ``MedianPruner()``, ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``,
  ``HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)``;
* ``hpo_rand_hyperband`` -- ``rand.suggest`` with the same Hyperband pruner;
* ``optuna_tpe_median`` / ``optuna_tpe_hyperband`` -- Optuna's ``TPESampler(seed)`` with its
  ``MedianPruner()`` / ``HyperbandPruner(1, max_epochs, 3)``;
* ``kt_hyperband`` -- KerasTuner ``Hyperband(max_epochs, factor=3)`` over the same space
  (promoted trials resume their parent's checkpoint).

hpo and Optuna report ``1 - val_accuracy`` after every epoch (hpo through
``hpo.keras.PruningCallback``, Optuna through a callback doing what optuna-integration's
does). A run's result is what :class:`pruning_methods.Tracker` saw before the deadline: the
best validation accuracy of any model at any epoch end, the test accuracy of that model at
that epoch, the configurations started, those stopped below ``max_epochs`` (pruned, or not
promoted by KerasTuner), and the epochs trained. Methods run interleaved by seed, in an order
rotated by the seed, so that the load of a shared machine falls on all of them alike.

Run: ``nice -n 10 python benchmarks/pruning_animal.py --seeds 3 --budget 90 --max-epochs 9``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, write_results

HPO = {"hpo_tpe": ("tpe", None), "hpo_tpe_median": ("tpe", "median"), "hpo_tpe_asha": ("tpe", "asha"),
       "hpo_tpe_hyperband": ("tpe", "hyperband"), "hpo_rand_hyperband": ("rand", "hyperband")}
OPTUNA = {"optuna_tpe_median": "median", "optuna_tpe_hyperband": "hyperband"}
METHODS = (*HPO, *OPTUNA, "kt_hyperband")
KEYS = ("best_val_accuracy", "test_accuracy", "configurations", "stopped_early", "epochs_trained",
        "search_seconds")


def run_one(method, seed, args, data, workdir):
    import keras
    import pruning_methods as pm

    keras.utils.set_random_seed(seed)  # a benchmark script may own the global seeds
    tracker = pm.Tracker(args.budget, args.max_epochs, data[4], data[5])
    if method in HPO:
        extra = pm.run_hpo(*HPO[method], seed, data, tracker)
    elif method in OPTUNA:
        extra = pm.run_optuna(OPTUNA[method], seed, data, tracker)
    else:
        extra = pm.run_keras_tuner(seed, data, tracker, workdir)
    keras.backend.clear_session()
    return {**tracker.summary(), **extra}


def summarize(runs):
    rows = []
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        row = {"method": method, "seeds": sorted(r["seed"] for r in mine)}
        for key in KEYS:
            values = np.array([r[key] for r in mine], dtype=float)
            row[key] = {"mean": float(values.mean()), "std": float(values.std())}
        rows.append(row)
    return rows


def compare(a, b, key):
    """(difference of means, margin, verdict): a difference counts only beyond the larger std."""
    diff = a[key]["mean"] - b[key]["mean"]
    margin = max(a[key]["std"], b[key]["std"])
    return diff, margin, "better" if diff > margin else "worse" if -diff > margin else "within the seed std"


PAIRS = [("hpo_tpe_median", "hpo_tpe"), ("hpo_tpe_asha", "hpo_tpe"), ("hpo_tpe_hyperband", "hpo_tpe"),
         ("hpo_rand_hyperband", "hpo_tpe_hyperband"), ("hpo_tpe_median", "optuna_tpe_median"),
         ("hpo_tpe_hyperband", "optuna_tpe_hyperband"), ("hpo_tpe_asha", "optuna_tpe_hyperband"),
         ("hpo_tpe_hyperband", "kt_hyperband"), ("hpo_tpe_asha", "kt_hyperband")]


def markdown(summary, args):
    import pruning_methods as pm

    by = {row["method"]: row for row in summary}
    cell = lambda row, k, f="{:.4f}": f"{f.format(row[k]['mean'])} ± {f.format(row[k]['std'])}"
    lines = [
        "Animal-Shape (`animal-shape-mnist` 0.39), 6,216 train / 1,500 validation / 2,000 test images "
        "2×2 average-pooled to 14×14 (as `nas_animal`). "
        f"**Equal wall time: {args.budget:.0f} s per run**, CNNs trained for at most {args.max_epochs} epochs "
        f"(batch {pm.BATCH}, Adam). Best validation accuracy of any model at any epoch end before the "
        "deadline; test accuracy of that model at that epoch. Mean ± std (population std) over seeds "
        f"{', '.join(map(str, range(args.seeds)))}. " + ", ".join(f"{k} {v}" for k, v in args.libraries.items()) + ".",
        "",
        ("| method | seeds | best val accuracy | test accuracy | configurations started | stopped early | "
        "epochs trained |"),
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        lines.append(
            f"| {row['method']} | {', '.join(map(str, row['seeds']))} | **{cell(row, 'best_val_accuracy')}** | "
            f"{cell(row, 'test_accuracy')} | {cell(row, 'configurations', '{:.1f}')} | "
            f"{cell(row, 'stopped_early', '{:.1f}')} | {cell(row, 'epochs_trained', '{:.0f}')} |")
    lines += ["", "### Verdicts", "",
              ("A method beats another only when its mean is higher by more than the larger of the two "
              "seed standard deviations (validation accuracy first, test accuracy after the slash).")]
    for a, b in PAIRS:
        if a in by and b in by:
            parts = []
            for key in ("best_val_accuracy", "test_accuracy"):
                diff, margin, verdict = compare(by[a], by[b], key)
                parts.append(f"{diff:+.4f} (margin {margin:.4f}, {verdict})")
            lines.append(f"- `{a}` vs `{b}`: " + " / ".join(parts) + ".")
    lines += [
        "",
        "### Setup",
        "",
        (f"- Space (the same in the three libraries): {pm.space_text()}. Filters double from block to "
        f"block up to {pm.MAX_FILTERS}; max pooling between blocks; BatchNormalization momentum "
        f"{pm.BN_MOMENTUM}; global average pooling, dense-ReLU, dropout, softmax."),
        ("- hpo: `tpe.suggest` / `rand.suggest` with `fmin(..., timeout=budget, pruner=...)`: "
        "`MedianPruner()` (n_startup_trials=5, n_warmup_steps=0), "
        "`SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)`, "
        f"`HyperbandPruner(min_resource=1, max_resource={args.max_epochs}, reduction_factor=3)`; "
        "reports through `hpo.keras.PruningCallback(monitor=\"val_accuracy\")` (1 - accuracy)."),
        ("- Optuna: `TPESampler(seed=seed)` (its defaults), `MedianPruner()` (its defaults), "
        f"`HyperbandPruner(min_resource=1, max_resource={args.max_epochs}, reduction_factor=3)`; "
        "`study.optimize(timeout=budget)`; a Keras callback reports 1 - val_accuracy at epoch + 1 and "
        "raises `TrialPruned` when `should_prune()`."),
        (f"- KerasTuner: `Hyperband(max_epochs={args.max_epochs}, factor=3, hyperband_iterations=1000)`, "
        "no new trial once the budget is spent; a promoted trial resumes its parent's checkpoint, so "
        "one configuration counts once and its epochs once. \"Stopped early\" for it: configurations "
        "never promoted to the full budget."),
        ("- \"Stopped early\": configurations whose training ended below max epochs, except the one the "
        "deadline cut. hpo's and Optuna's own counts of pruned trials are in the JSON "
        "(`library_pruned`)."),
        (f"- Budgets are wall time measured on a shared machine ({os.cpu_count()} CPU cores shared with other "
        "work, under `nice -n 10`): the load differed between runs, which is part of the seed std. "
        "Methods ran interleaved by seed, the order rotated by the seed."),
    ]
    if args.notes:
        lines += [f"- {args.notes}"]
    return "\n".join(lines)


def library_versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("keras", "tensorflow-cpu", "tensorflow", "optuna", "keras-tuner", "animal-shape-mnist"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue  # tensorflow ships as tensorflow or tensorflow-cpu
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=90.0, help="wall-time seconds per run")
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--methods", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--name", default="pruning_animal")
    parser.add_argument("--cache-dir", default=str(RESULTS / "runs" / "pruning_animal"))
    parser.add_argument("--notes", default="", help="a sentence added to the Markdown")
    parser.add_argument("--render", action="store_true", help="only rewrite the results from the cached runs")
    args = parser.parse_args(argv)
    methods = list(METHODS) if args.methods == "all" else [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")
    args.libraries = library_versions()
    settings = {"budget": args.budget, "max_epochs": args.max_epochs}
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)

    def cached(method, seed):
        path = cache / f"{method}_seed{seed}.json"
        if path.exists():
            run = json.loads(path.read_text())
            if run.get("settings") == settings:
                return run
        return None

    def publish():
        runs = [r for s in range(args.seeds) for m in METHODS if (r := cached(m, s))]
        summary = summarize(runs)
        write_results(args.name, {"args": {k: v for k, v in vars(args).items() if k not in ("render", "cache_dir")},
                                  "runs": runs, "summary": summary}, markdown(summary, args))
        return summary

    if args.render:
        sys.argv = [a for a in sys.argv if a != "--render"]
        print(markdown(publish(), args))
        return
    import animal_data

    data = animal_data.load(pool=2)
    with tempfile.TemporaryDirectory() as workdir:
        for seed in range(args.seeds):
            shift = seed % len(methods)
            for method in methods[shift:] + methods[:shift]:
                if cached(method, seed):
                    continue
                start = time.monotonic()
                run = run_one(method, seed, args, data, workdir)
                run.update(method=method, seed=seed, wall_seconds=time.monotonic() - start, settings=settings)
                (cache / f"{method}_seed{seed}.json").write_text(json.dumps(run, indent=2, default=float))
                print(json.dumps(run, default=float), flush=True)
                publish()
    print(markdown(publish(), args))


if __name__ == "__main__":
    main()
