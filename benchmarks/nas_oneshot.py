"""Weight-sharing NAS on Animal-Shape: ENAS, random one-shot, DARTS, NASNet-RL, PNAS vs a fixed CNN.

Data as in ``benchmarks/nas_animal.py`` (``benchmarks/animal_data.py``): 6,216 train / 1,500
validation / 2,000 test Animal-Shape silhouettes, 2x2 average-pooled to 14x14. Every method
searches ``nas.space.cells("cell", (14, 14, 1), 10, blocks=3, filters=16, max_params=200000)``
(8 built-in ops, lookback 2, 2 stages of 1 cell), the space of ``nas_animal``'s ``pnas`` row;
its final networks are trained from scratch for ``--epochs`` epochs each
(``nas.KerasObjective``, batch 32, Adam 1e-3, best epoch restored), the best on validation
exported to ``.keras``, reloaded and scored on the test split.

* ``enas`` -- ``nas.enas.suggest`` + ``nas.SharedWeightsObjective``: ``--children`` children
  (default 40), ``--steps`` supernet minibatches of 64 each (default 10), each child scored on
  a fixed subset of ``--eval-samples`` validation images (default 500), then
  ``nas.oneshot.finalize`` retrains the ``--top-k`` best children by shared-weight accuracy
  (default 1). This budget was chosen to make the search cheap against PNAS's 10 models x 3
  epochs; the earlier one (100 children x 15 steps, all 1,500 validation images, top 2) is
  ``--children 100 --steps 15 --eval-samples 1500 --top-k 2``;
* ``random_one_shot`` -- the same budget with uniform children (``nas.oneshot.random.suggest``),
  so the two compare at equal wall time;
* ``pnas`` -- ``nas_animal``'s ``pnas`` row, run by its own code (``nas_animal.run_hpo``):
  ``--pnas-models`` models (default 10) trained ``--epochs`` epochs each, k1 6, beam 2, ridge
  predictor, the cell space plus a log-uniform learning rate; run here so that its wall time
  is measured in the same run, under the same load, as the one-shot searches';
* ``darts`` -- ``nas.darts.search`` (first order, ``--darts-epochs`` epochs of
  ``--darts-steps`` alternating steps, batch 64); the derived cell is retrained
  ``--retrain-models`` times (default 2) (different initializations) and the best exported;
* ``nasnet`` -- ``nas.nasnet.suggest`` + ``nas.KerasObjective``: ``--nasnet-models`` children,
  each trained from scratch for ``--epochs`` epochs (the budget of ``nas_animal``'s pnas row);
  its best child is the final model;
* ``fixed_cnn_<E>ep`` -- ``nas_animal``'s fixed CNN, one model per seed.

For ``enas`` with seed 0 the benchmark also retrains 10 children spread over the final
supernet's ranking and reports the Kendall tau between their shared-weight and retrained
validation accuracies, and ``memory`` runs a ``--memory-children``-child ENAS search (2 steps
per child, validation on 256 images) and records the process's resident memory after 50 and
after all children; ``retrain_noise`` retrains ENAS seed 0's final cell ``--noise-retrains``
times (default 4) with different initializations, the chance spread that caps that Kendall
tau. Each (method, seed) runs in its own subprocess (clean memory and wall
time) and is cached as JSON under ``--cache-dir``, keyed by the settings that method uses.

Run: ``nice -n 10 python benchmarks/nas_oneshot.py --seeds 3``. A second budget, where PNAS
trains 30 models (k1 10, beam 10) and the one-shot searches run 80 children and retrain 2,
writes ``results/nas_oneshot_pnas30.md``::

    nice -n 10 python benchmarks/nas_oneshot.py --seeds 3 --children 80 --steps 10 --top-k 2 \
        --pnas-models 30 --pnas-k1 10 --pnas-beam 10 \
        --methods enas,random_one_shot,pnas,fixed_cnn_3ep --name nas_oneshot_pnas30
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, command_line, versions

INPUT_SHAPE = (14, 14, 1)
BATCH = 32
METHODS = ("enas", "random_one_shot", "pnas", "darts", "nasnet", "fixed_cnn_3ep", "memory", "retrain_noise")
NAS_ANIMAL_ROWS = ("pnas", "morphism_bo", "random_cells", "fixed_cnn_3ep", "fixed_cnn_10ep")
# The settings each method's run depends on (its cache key).
METHOD_SETTINGS = {
    "enas": ("children", "steps", "eval_samples", "epochs", "top_k"),
    "random_one_shot": ("children", "steps", "eval_samples", "epochs", "top_k"),
    "pnas": ("pnas_models", "pnas_k1", "pnas_beam", "epochs"),
    "darts": ("darts_epochs", "darts_steps", "epochs", "retrain_models"),
    "nasnet": ("nasnet_models", "epochs"),
    "fixed_cnn_3ep": (),
    "memory": ("memory_children",),
    "retrain_noise": ("noise_retrains", "epochs"),
}
# Methods run for seed 0 only (they measure the setup, not a search).
SEED0_ONLY = ("memory", "retrain_noise")


def cache_dir(args):
    return Path(args.cache_dir or RESULTS / "runs" / args.name)


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def cell_space(args):
    from hpo import nas

    return nas.space.cells("cell", INPUT_SHAPE, 10, blocks=3, filters=16, max_params=200_000)


def retrainer(args, data, seed):
    from hpo import nas

    x_train, y_train, x_val, y_val = data[:4]
    return nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=args.epochs, batch_size=BATCH,
                              early_stopping=args.epochs, seed=seed)


def test_accuracy(path, x_test, y_test):
    import keras

    from hpo.nas.objective import accuracy

    return accuracy(keras.models.load_model(path), x_test, y_test)


def run_one_shot(method, seed, args, data, workdir):
    from hpo import Trials, fmin, nas

    x_train, y_train, x_val, y_val, x_test, y_test = data
    algo = nas.enas.suggest if method == "enas" else nas.oneshot.random.suggest
    shared = nas.SharedWeightsObjective(x_train, y_train, x_val, y_val, train_steps=args.steps, batch_size=64,
                                        eval_samples=args.eval_samples, seed=seed)
    trials = Trials()
    start = time.monotonic()
    fmin(shared, {"cell": cell_space(args)}, algo=algo, max_evals=args.children, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    search_seconds = time.monotonic() - start
    path = os.path.join(workdir, f"{method}_{seed}.keras")
    report = nas.oneshot.finalize(trials, retrainer(args, data, seed), path, top_k=args.top_k,
                                  shared=shared, x_test=x_test, y_test=y_test)
    wall = time.monotonic() - start
    acc = [t["result"]["val_accuracy"] for t in trials if t["result"]["status"] == "ok"]
    run = {"test_accuracy": report["test_accuracy"], "best_val_accuracy": report["best"]["retrained_accuracy"],
           "best_shared_accuracy": report["best"]["shared_accuracy"], "children": report["children"],
           "models_from_scratch": len(report["children"]), "search_seconds": search_seconds, "wall_seconds": wall,
           "shared_accuracy_first10": float(np.mean(acc[:10])), "shared_accuracy_last10": float(np.mean(acc[-10:])),
           "best_cell": report["best"]["cell"],
           "traces": int(shared.supernet._train_step.experimental_get_tracing_count()),
           "train_seconds": sum(t["result"].get("train_seconds", 0.0) for t in trials),
           "eval_seconds": sum(t["result"].get("eval_seconds", 0.0) for t in trials)}
    if method == "enas" and seed == 0:
        run["kendall"] = kendall(shared, trials, args, data, seed)
    return run


def kendall(shared, trials, args, data, seed):
    """Kendall tau between shared-weight and retrained accuracy of 10 children spread over the
    final supernet's ranking of the distinct children of the search's second half."""
    from scipy.stats import kendalltau

    from hpo import Trials, fmin
    from hpo.spaces.custom import custom

    x_val, y_val = data[2], data[3]
    prior, net = shared.supernet.prior, shared.supernet
    cells = {}
    for t in trials.trials[len(trials.trials) // 2:]:
        if t["result"]["status"] == "ok":
            cell = prior.decode(t["misc"]["vals"]["cell"][0])
            cells[cell.hash] = cell
    scored = sorted(((net.accuracy(x_val, y_val, net.path(c)), h) for h, c in cells.items()), reverse=True)
    picks = [scored[round(k)] for k in np.linspace(0, len(scored) - 1, min(10, len(scored)))]
    start = time.monotonic()
    retrained = Trials()
    fmin(retrainer(args, data, seed), {"cell": custom("cell", prior)}, max_evals=len(picks),
         points_to_evaluate=[{"cell": cells[h].to_json()} for _, h in picks], trials=retrained,
         show_progressbar=False, rstate=np.random.default_rng(seed))
    shared_acc = [a for a, _ in picks]
    retrained_acc = [t["result"]["val_accuracy"] for t in retrained.trials]
    tau = kendalltau(shared_acc, retrained_acc)
    return {"tau": float(tau.statistic), "p_value": float(tau.pvalue), "shared": shared_acc,
            "retrained": retrained_acc, "seconds": time.monotonic() - start}


def run_pnas(seed, args, data, workdir):
    """``nas_animal``'s pnas row, by ``nas_animal``'s own code and settings."""
    import keras
    import nas_animal

    settings = argparse.Namespace(models=args.pnas_models, epochs=args.epochs, max_params=200_000, blocks=3,
                                  filters=16, k1=args.pnas_k1, beam=args.pnas_beam)
    keras.utils.set_random_seed(seed)  # as nas_animal does before each run
    start = time.monotonic()
    run = nas_animal.run_hpo("pnas", seed, settings, data, workdir)
    run.update(wall_seconds=time.monotonic() - start, models_from_scratch=run["models_trained"])
    return run


def run_darts(seed, args, data, workdir):
    from hpo import Trials, fmin, nas

    x_train, y_train, x_val, y_val, x_test, y_test = data
    start = time.monotonic()
    cell = nas.darts.search(x_train, y_train, x_val, y_val, cell_space(args), epochs=args.darts_epochs,
                            steps_per_epoch=args.darts_steps, batch_size=64, seed=seed)
    search_seconds = time.monotonic() - start
    trials = Trials()
    fmin(retrainer(args, data, seed), {"cell": cell_space(args)}, max_evals=args.retrain_models,
         points_to_evaluate=[{"cell": cell.to_json()}] * args.retrain_models, trials=trials,
         show_progressbar=False, rstate=np.random.default_rng(seed))
    path = nas.export_best(trials, os.path.join(workdir, f"darts_{seed}.keras"))
    return {"test_accuracy": test_accuracy(path, x_test, y_test),
            "best_val_accuracy": trials.best_trial["result"]["val_accuracy"],
            "models_from_scratch": args.retrain_models, "search_seconds": search_seconds,
            "wall_seconds": time.monotonic() - start, "best_cell": [list(b) for b in cell.blocks]}


def run_nasnet(seed, args, data, workdir):
    from hpo import Trials, fmin, nas

    x_test, y_test = data[4], data[5]
    start = time.monotonic()
    trials = Trials()
    fmin(retrainer(args, data, seed), {"cell": cell_space(args)}, algo=nas.nasnet.suggest,
         max_evals=args.nasnet_models, trials=trials, rstate=np.random.default_rng(seed), show_progressbar=False)
    path = nas.export_best(trials, os.path.join(workdir, f"nasnet_{seed}.keras"))
    best = trials.best_trial
    return {"test_accuracy": test_accuracy(path, x_test, y_test),
            "best_val_accuracy": best["result"]["val_accuracy"],
            "models_from_scratch": sum(t["result"]["status"] == "ok" for t in trials),
            "wall_seconds": time.monotonic() - start,
            "best_cell": [list(b) for b in nas.Cell.from_json(best["misc"]["vals"]["cell"][0]).blocks]}


def run_fixed(seed, args, data, workdir):
    import nas_animal

    start = time.monotonic()
    run = nas_animal.run_fixed(3, seed, args, data, workdir)
    return {"test_accuracy": run["test_accuracy"], "best_val_accuracy": run["best_val_accuracy"],
            "models_from_scratch": 1, "wall_seconds": time.monotonic() - start}


def run_memory(seed, args, data, workdir):
    """Resident memory of an ENAS search after 50 children and after all of them."""
    from hpo import Trials, fmin, nas

    x_train, y_train, x_val, y_val = data[:4]
    shared = nas.SharedWeightsObjective(x_train, y_train, x_val[:256], y_val[:256], train_steps=2,
                                        batch_size=64, seed=seed, save_every=10**6)
    marks = {}

    def objective(expr, memo, ctrl):
        result = shared(expr, memo, ctrl)
        done = len(marks.setdefault("calls", [])) + 1
        marks["calls"].append(done)
        if done in (1, 50, 100, 200, 300, 400, args.memory_children):
            marks[str(done)] = rss_mib()
        return result

    objective.fmin_pass_expr_memo_ctrl = True
    start = time.monotonic()
    fmin(objective, {"cell": cell_space(args)}, algo=nas.enas.suggest, max_evals=args.memory_children,
         trials=Trials(), rstate=np.random.default_rng(seed), show_progressbar=False)
    marks.pop("calls")
    return {"rss_mib": marks, "children": args.memory_children, "wall_seconds": time.monotonic() - start,
            "traces": int(shared.supernet._train_step.experimental_get_tracing_count())}


def run_retrain_noise(seed, args, data, workdir):
    """ENAS seed ``seed``'s final cell retrained ``--noise-retrains`` times with different
    initializations: how much one child's retrained accuracy moves by chance alone, the floor
    under any ranking of children by retrained accuracy (the Kendall tau above)."""
    from hpo import Trials, fmin
    from hpo.nas.oneshot.supernet import cell_prior

    cached = json.loads((cache_dir(args) / f"enas_seed{seed}.json").read_text())
    cell = cell_prior(cell_space(args)).decode([tuple(block) for block in cached["best_cell"]])
    start = time.monotonic()
    trials = Trials()
    fmin(retrainer(args, data, seed), {"cell": cell_space(args)}, max_evals=args.noise_retrains,
         points_to_evaluate=[{"cell": cell.to_json()}] * args.noise_retrains,
         trials=trials, show_progressbar=False, rstate=np.random.default_rng(seed))
    return {"cell": [list(b) for b in cell.blocks],
            "val_accuracy": [t["result"]["val_accuracy"] for t in trials.trials],
            "wall_seconds": time.monotonic() - start}


def run_in_this_process(method, seed, args):
    import animal_data

    data = animal_data.load(pool=2)
    with tempfile.TemporaryDirectory() as workdir:
        if method in ("enas", "random_one_shot"):
            return run_one_shot(method, seed, args, data, workdir)
        if method == "pnas":
            return run_pnas(seed, args, data, workdir)
        if method == "darts":
            return run_darts(seed, args, data, workdir)
        if method == "nasnet":
            return run_nasnet(seed, args, data, workdir)
        if method == "fixed_cnn_3ep":
            return run_fixed(seed, args, data, workdir)
        if method == "retrain_noise":
            return run_retrain_noise(seed, args, data, workdir)
        return run_memory(seed, args, data, workdir)


# -- results --------------------------------------------------------------------------------------


def mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())


def nas_animal_rows():
    path = RESULTS / "nas_animal.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    rows = {row["method"]: row for row in data.get("summary", [])}
    return {"command": data.get("command"), "rows": {k: rows[k] for k in NAS_ANIMAL_ROWS if k in rows}}


def markdown(runs, args, reference):
    def fmt(pair, f="{:.4f}"):
        return f"{f.format(pair[0])} ± {f.format(pair[1])}"

    rows = {}
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if mine and method not in SEED0_ONLY:
            rows[method] = {"seeds": sorted(r["seed"] for r in mine),
                            "test": mean_std([r["test_accuracy"] for r in mine]),
                            "val": mean_std([r["best_val_accuracy"] for r in mine]),
                            "wall": mean_std([r["wall_seconds"] for r in mine]),
                            "scratch": float(np.mean([r["models_from_scratch"] for r in mine]))}
    lines = [
        ("Animal-Shape, 14×14 (as in `nas_animal`); every method searches `nas.space.cells(\"cell\", (14, 14, 1), "
        "10, blocks=3, filters=16, max_params=200000)` and its final networks are trained from scratch for "
        f"{args.epochs} epochs (batch 32, Adam 1e-3, best epoch restored), exported to `.keras`, reloaded and "
        "scored on the 2,000 test images. Mean ± population std over seeds; wall time per run includes search "
        "and retraining, one run at a time under `nice -n 10` on 2 shared CPU cores."),
        "",
        ("| method | seeds | test accuracy | val accuracy of final model | models trained from scratch | "
        "wall time per run (s) |"),
        "|---|---|---|---|---|---|",
    ]
    for method, row in rows.items():
        lines.append(f"| {method} | {', '.join(map(str, row['seeds']))} | **{fmt(row['test'])}** | {fmt(row['val'])} | "
                     f"{row['scratch']:.0f} | {fmt(row['wall'], '{:.0f}')} |")
    if reference:
        for name, row in reference["rows"].items():
            lines.append(f"| {name} (nas_animal) | {', '.join(map(str, row['seeds']))} | "
                         f"**{row['test_accuracy']['mean']:.4f} ± {row['test_accuracy']['std']:.4f}** | "
                         f"{row['best_val_accuracy']['mean']:.4f} ± {row['best_val_accuracy']['std']:.4f} | "
                         f"{row['models_trained']['mean']:.0f} | {row['wall_seconds']['mean']:.0f} ± "
                         f"{row['wall_seconds']['std']:.0f} |")
        lines += ["", (f"Rows marked `(nas_animal)` are copied from `benchmarks/results/nas_animal.md`, made by "
                      f"`{reference['command']}` (10 models × 3 epochs per search; not rerun here).")]
    lines += ["", "### Verdicts", "",
              ("A method beats another only when its mean test accuracy is higher by more than the larger of "
              "the two seed standard deviations.")]
    everything = dict(rows)
    if reference:
        everything.update({f"{k} (nas_animal)": {"test": (r["test_accuracy"]["mean"], r["test_accuracy"]["std"]),
                                                  "wall": (r["wall_seconds"]["mean"], r["wall_seconds"]["std"])}
                           for k, r in reference["rows"].items()})
    pairs = [("enas", "random_one_shot"), ("enas", "pnas"), ("random_one_shot", "pnas"), ("enas", "nasnet"),
             ("enas", "darts"), ("enas", "fixed_cnn_3ep"), ("random_one_shot", "fixed_cnn_3ep"),
             ("pnas", "fixed_cnn_3ep"), ("darts", "fixed_cnn_3ep"), ("nasnet", "fixed_cnn_3ep"), ("nasnet", "pnas"),
             ("darts", "random_one_shot")]
    for a, b in pairs:
        if a in everything and b in everything:
            diff = everything[a]["test"][0] - everything[b]["test"][0]
            margin = max(everything[a]["test"][1], everything[b]["test"][1])
            verdict = ("**beats**" if diff > margin else "is **worse than**" if -diff > margin
                       else "does **not** differ beyond the seed std from")
            ratio = everything[a]["wall"][0] / everything[b]["wall"][0]
            lines.append(f"- `{a}` {verdict} `{b}`: {diff:+.4f} (margin {margin:.4f}); wall time ratio {ratio:.2f}.")
    if "enas" in rows and "pnas" in rows:
        enas, pnas = rows["enas"], rows["pnas"]
        ratio = enas["wall"][0] / pnas["wall"][0]
        diff = enas["test"][0] - pnas["test"][0]
        within = abs(diff) <= max(enas["test"][1], pnas["test"][1])
        fast = ratio <= 1 / 3
        lines += ["", "**Target** (ENAS within one seed std of PNAS's test accuracy in at most a third of its wall "
                  f"time, both measured in this run): {'**met**' if within and fast else '**not met**'}. "
                  f"Accuracy {diff:+.4f} against a margin of {max(enas['test'][1], pnas['test'][1]):.4f} "
                  f"({'within' if within else 'outside'} one std); wall time {enas['wall'][0]:.0f} s against "
                  f"{pnas['wall'][0]:.0f} s, ratio {ratio:.2f} (target ≤ 0.33"
                  + ("" if fast else f"; ENAS would need {enas['wall'][0] - pnas['wall'][0] / 3:.0f} s less") + ")."]
    kendall = [r["kendall"] for r in runs if r["method"] == "enas" and "kendall" in r]
    if kendall:
        k = kendall[0]
        lines += ["", "### Weight sharing's ranking (ENAS, seed 0)", "",
                  (f"10 distinct children of the search's second half, spread over the final supernet's ranking, "
                  f"retrained from scratch ({args.epochs} epochs): Kendall tau between shared-weight and retrained "
                  f"validation accuracy **{k['tau']:.3f}** (p = {k['p_value']:.3f}; {k['seconds']:.0f} s)."),
                  "", "| shared-weight accuracy | retrained accuracy |", "|---|---|"]
        lines += [f"| {s:.4f} | {r:.4f} |" for s, r in zip(k["shared"], k["retrained"])]
        noise = [r for r in runs if r["method"] == "retrain_noise"]
        if noise:
            acc = noise[0]["val_accuracy"]
            spread = float(np.std(k["retrained"]))
            lines += ["", (f"How much of that is chance: ENAS seed 0's final cell `{noise[0]['cell']}` retrained "
                           f"{len(acc)} times with different initializations (same data, {args.epochs} epochs) reaches "
                           f"validation accuracy {np.mean(acc):.4f} ± {np.std(acc):.4f} (range {min(acc):.4f}–"
                           f"{max(acc):.4f}; {noise[0]['wall_seconds']:.0f} s), against a spread of "
                           f"{spread:.4f} (std) over the 10 different children above: one retraining ranks "
                           f"children {'mostly by chance' if np.std(acc) >= spread / 2 else 'by more than chance'}.")]
    memory = [r for r in runs if r["method"] == "memory"]
    if memory:
        m = memory[0]
        rss = m["rss_mib"]
        ratio = rss[str(m["children"])] / rss["50"]
        lines += ["", f"### Memory of a {m['children']}-child ENAS search", "",
                  ("Resident set size of the search process (MiB) after n children (2 supernet steps per child, "
                  f"validation on 256 images; {m['wall_seconds']:.0f} s; the train step was traced "
                  f"{m['traces']} time(s)):"), "",
                  "| " + " | ".join(f"n = {k}" for k in rss) + " |", "|" + "---|" * len(rss),
                  "| " + " | ".join(f"{v:.0f}" for v in rss.values()) + " |", "",
                  (f"After {m['children']} children the process holds {ratio:.3f}× its memory after 50 "
                  f"({(ratio - 1) * 100:+.1f} %; the bound is 20 %).")]
    lines += ["", "### Setup", "",
              (f"- `enas` / `random_one_shot`: {args.children} children, {args.steps} supernet steps of 64 images "
              f"each per child (Adam 2e-3, masked to the child's path), children scored on a fixed subset of "
              f"{min(args.eval_samples, 1500)} of the 1,500 validation images with batch statistics; ENAS "
              f"controller defaults (learning rate 0.2, entropy weight 0.01, baseline decay 0.9); "
              f"`finalize(top_k={args.top_k})`."),
              (f"- `pnas`: `nas_animal`'s pnas row run by its code in this run: {args.pnas_models} models × "
              f"{args.epochs} epochs, k1 {args.pnas_k1}, beam {args.pnas_beam}, ridge predictor, cell space + log-uniform learning rate."),
              (f"- `darts`: first order, {args.darts_epochs} epochs × {args.darts_steps} steps (alpha Adam 3e-3 on "
              f"validation batches, weights Adam 2e-3 on training batches, batch 64); derived cell retrained "
              f"{args.retrain_models}× ."),
              f"- `nasnet`: {args.nasnet_models} children trained from scratch, {args.epochs} epochs each.",
              ("- `fixed_cnn_3ep`: `nas_animal`'s fixed CNN (3 × conv3×3-BN-ReLU-maxpool, 32/64/128 filters), "
              "3 epochs.")]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--children", type=int, default=40, help="children of enas / random_one_shot")
    parser.add_argument("--steps", type=int, default=10, help="supernet steps per child")
    parser.add_argument("--eval-samples", type=int, default=500, help="validation images scoring each child")
    parser.add_argument("--top-k", type=int, default=1, help="children enas / random_one_shot retrain")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pnas-models", type=int, default=10)
    parser.add_argument("--pnas-k1", type=int, default=6, help="PNAS's level-1 cells (nas_animal's default)")
    parser.add_argument("--pnas-beam", type=int, default=2, help="PNAS's beam (nas_animal's default)")
    parser.add_argument("--name", default="nas_oneshot",
                        help="results file stem under benchmarks/results/ (one per budget)")
    parser.add_argument("--retrain-models", type=int, default=2, help="retrainings of darts's cell")
    parser.add_argument("--darts-epochs", type=int, default=3)
    parser.add_argument("--darts-steps", type=int, default=40)
    parser.add_argument("--nasnet-models", type=int, default=10)
    parser.add_argument("--memory-children", type=int, default=500)
    parser.add_argument("--noise-retrains", type=int, default=4, help="retrainings of one cell (retrain_noise)")
    parser.add_argument("--cache-dir", default=None, help="default: benchmarks/results/runs/NAME")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)  # method:seed, in a subprocess
    parser.add_argument("--render", action="store_true", help="only rewrite the results from the cached runs")
    args = parser.parse_args(argv)
    cache = cache_dir(args)
    cache.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for ks in METHOD_SETTINGS.values() for k in ks})
    settings = {k: getattr(args, k) for k in keys}

    def current(run):
        return {k: run.get("settings", {}).get(k) for k in METHOD_SETTINGS[run["method"]]} == {
            k: settings[k] for k in METHOD_SETTINGS[run["method"]]}

    if args.only:
        method, seed = args.only.split(":")
        run = run_in_this_process(method, int(seed), args)
        run.update(method=method, seed=int(seed), settings={k: settings[k] for k in METHOD_SETTINGS[method]})
        (cache / f"{method}_seed{seed}.json").write_text(json.dumps(run, indent=2, default=float))
        return
    methods = [m for m in args.methods.split(",") if m]
    runs = []
    for seed in range(args.seeds):
        for method in methods:
            if method in SEED0_ONLY and seed:
                continue
            path = cache / f"{method}_seed{seed}.json"
            if not args.render and (not path.exists() or not current(json.loads(path.read_text()))):
                print(f"running {method} seed {seed}", flush=True)
                subprocess.run([sys.executable, __file__, *(argv or sys.argv[1:]), "--only", f"{method}:{seed}"],
                               check=True)
            if path.exists():
                runs.append(json.loads(path.read_text()))
    runs = [r for r in runs if current(r)]
    reference = nas_animal_rows()
    # The cache's location is not part of the results.
    command = command_line().replace(" --render", "")
    if "--cache-dir" in sys.argv:
        at = sys.argv.index("--cache-dir")
        command = shlex.join(["python", f"benchmarks/{Path(sys.argv[0]).name}",
                              *sys.argv[1:at], *sys.argv[at + 2:]])
    data = {"command": command, "versions": versions(), "settings": settings, "runs": runs}
    out = RESULTS / f"{args.name}.md"
    out.with_suffix(".json").write_text(json.dumps(data, indent=2, default=float))
    header = f"Command: `{data['command']}`\n\nVersions: " + ", ".join(
        f"{k} {v}" for k, v in data["versions"].items()) + "\n\n"
    old = out.read_text() if out.exists() else ""
    reading = old[old.index("### Reading"):].strip() if "### Reading" in old else ""
    # The reading is written by hand for a run; it is kept until someone rewrites it.
    out.write_text(header + markdown(runs, args, reference).strip() + "\n" + (f"\n{reading}\n" if reading else ""))
    print(out.read_text())


if __name__ == "__main__":
    main()
