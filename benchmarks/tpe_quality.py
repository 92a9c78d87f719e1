"""TPE quality: hpo TPE side by side with Hyperopt TPE/anneal and Optuna TPE/random.

Every optimizer runs every task for ``--evals`` evaluations with the same seeds; the score of
a run after k evaluations is the (noiseless) loss of the configuration with the best observed
loss among the first k. Reported: mean ± std at 25/50/100 evaluations, the average rank of
each optimizer (per task and seed, ties shared), and the mean normalized regret
``(best - f*) / (median of 10,000 prior samples - f*)``: 0 is the optimum, 1 a typical
random point.

    python benchmarks/tpe_quality.py --seeds 20
    python benchmarks/tpe_quality.py --tasks sklearn --seeds 3 --name tpe_quality_sklearn

Optuna's GPSampler (``optuna-gp``, needs torch) and SMAC (``smac``) run through
benchmarks/peers.py, e.g. ``--optimizers hpo-tpe optuna-gp smac --seeds 3``.

Variants of hpo's TPE can be compared without writing results, e.g.
``--optimizers hpo-tpe hpo-tpe:multivariate=0 --json /tmp/variants.json``; ``--first-seed 20
--seeds 60`` checks a variant on seeds that were not used to choose it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import time
from functools import partial

import numpy as np
from scipy.stats import rankdata

from tasks import SKLEARN, SYNTHETIC, TASKS, flatten

OPTIMIZERS = ["hpo-tpe", "hyperopt-tpe", "hyperopt-anneal", "optuna-tpe", "optuna-random"]
CHECKPOINTS = (25, 50, 100)
TEN_D = ["ackley10", "levy10", "styblinski_tang10"]


def _parse_options(text):
    options = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


class Recorder:
    """The objective seen by the optimizers: adds the task's noise, records true losses."""

    def __init__(self, task, seed):
        self.task = task
        self.rng = np.random.default_rng([seed, 12345])
        self.observed, self.true = [], []

    def __call__(self, flat):
        true = float(self.task.loss(flat))
        observed = self.task.noise(true, self.rng) if self.task.noise else true
        self.observed.append(observed)
        self.true.append(true)
        return observed

    def incumbent_trace(self, checkpoints):
        observed = np.asarray(self.observed)
        out = []
        for k in checkpoints:
            if len(observed) < k:
                out.append(math.nan)
                continue
            out.append(self.true[int(np.argmin(observed[:k]))])
        return out


def run_one(job):
    task_name, optimizer, seed, n_evals = job
    task = TASKS[task_name]
    rec = Recorder(task, seed)
    name, _, opts = optimizer.partition(":")
    options = _parse_options(opts)
    start = time.perf_counter()
    if name == "hpo-tpe":
        from hpo import Trials, fmin, tpe

        fmin(lambda p: rec(flatten(p)), task.hpo_space(), algo=partial(tpe.suggest, **options),
             max_evals=n_evals, trials=Trials(), rstate=np.random.default_rng(seed),
             show_progressbar=False)
    elif name in ("hyperopt-tpe", "hyperopt-anneal"):
        import hyperopt
        from hyperopt import Trials, fmin

        algo = hyperopt.tpe.suggest if name == "hyperopt-tpe" else hyperopt.anneal.suggest
        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        fmin(lambda p: rec(flatten(p)), task.hyperopt_space(), algo=partial(algo, **options),
             max_evals=n_evals, trials=Trials(), rstate=np.random.default_rng(seed),
             show_progressbar=False)
    elif name in ("optuna-tpe", "optuna-random"):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (optuna.samplers.TPESampler(seed=seed, **options) if name == "optuna-tpe"
                   else optuna.samplers.RandomSampler(seed=seed))
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: rec(task.optuna_params(t)), n_trials=n_evals)
    elif name in ("optuna-gp", "smac"):
        import warnings

        import peers

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GPSampler's fallback notes on conditional spaces
            peers.run(optimizer, task, rec, seed, n_evals)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    return task_name, optimizer, seed, rec.incumbent_trace(CHECKPOINTS), time.perf_counter() - start


def prior_median(task_name, n=10000):
    """Median noiseless loss of ``n`` configurations drawn from the (hpo) prior.

    Where the median is already optimal (``n_arms``: half the prior's mass is on the best
    arm) the mean stands in for "a typical random point", so that regret stays defined.
    """
    from hpo.spaces.compile import compile_space

    task = TASKS[task_name]
    compiled = compile_space(task.hpo_space())
    rows = compiled.sample_table(np.random.default_rng(2024), n)
    losses = []
    for row in rows:
        flat = {label: v[0] for label, v in compiled.row_to_vals(row).items() if v}
        losses.append(task.loss(flat))
    median = float(np.median(losses))
    return median if median > task.f_star else float(np.mean(losses))


def summarize(results, tasks, optimizers, medians, f_stars, seeds):
    """Per task and optimizer: scores by checkpoint, ranks and normalized regrets."""
    table = {}
    for task in tasks:
        for opt in optimizers:
            runs = [results[(task, opt, s)] for s in seeds if (task, opt, s) in results]
            table[(task, opt)] = np.array(runs)  # (seeds, checkpoints)
    ranks = {}
    for task in tasks:
        final = np.array([table[(task, opt)][:, -1] for opt in optimizers])  # (opts, seeds)
        r = np.apply_along_axis(rankdata, 0, final)
        for i, opt in enumerate(optimizers):
            ranks[(task, opt)] = float(r[i].mean())
    regrets = {}
    for task in tasks:
        if f_stars.get(task) is None or medians.get(task) is None:
            continue
        for opt in optimizers:
            denom = medians[task] - f_stars[task]
            regrets[(task, opt)] = np.clip((table[(task, opt)] - f_stars[task]) / denom, 0, None).mean(axis=0)
    return table, ranks, regrets


def render(tasks, optimizers, table, ranks, regrets, n_seeds, n_evals, medians, f_stars, walls):
    lines = []
    cols = " | ".join(optimizers)
    with_regret = [t for t in tasks if (t, optimizers[0]) in regrets]
    if with_regret:
        lines.append(f"**Mean normalized regret** over {len(with_regret)} tasks, {n_seeds} seeds "
                     "(0 = optimum, 1 = median random point):\n")
        lines.append(f"| evaluations | {cols} |")
        lines.append("|---" * (len(optimizers) + 1) + "|")
        for c, k in enumerate(CHECKPOINTS):
            vals = [np.mean([regrets[(t, o)][c] for t in with_regret]) for o in optimizers]
            lines.append(f"| {k} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
        lines.append("")
    lines.append(f"**Average rank** after {n_evals} evaluations (1 = best, ties shared):\n")
    lines.append(f"| tasks | {cols} |")
    lines.append("|---" * (len(optimizers) + 1) + "|")
    groups = [("all", tasks), ("10-d (ackley, levy, styblinski-tang)", [t for t in tasks if t in TEN_D])]
    groups += [(t, [t]) for t in tasks]
    for label, group in groups:
        if not group:
            continue
        vals = [np.mean([ranks[(t, o)] for t in group]) for o in optimizers]
        best = min(vals)
        lines.append(f"| {label} | " + " | ".join(
            (f"**{v:.2f}**" if v == best else f"{v:.2f}") for v in vals) + " |")
    lines.append("")
    lines.append(f"**Best loss** (mean ± std over {n_seeds} seeds) after 25 / 50 / 100 evaluations; "
                 "f* and the prior median are in the first column:\n")
    lines.append(f"| task (f*, median) | {cols} |")
    lines.append("|---" * (len(optimizers) + 1) + "|")
    for t in tasks:
        fs = "?" if f_stars.get(t) is None else f"{f_stars[t]:.4g}"
        md = "?" if medians.get(t) is None else f"{medians[t]:.4g}"
        cells = []
        for o in optimizers:
            arr = table[(t, o)]
            cells.append(" / ".join(f"{arr[:, c].mean():.4g}" for c in range(len(CHECKPOINTS)))
                         + f" ± {arr[:, -1].std():.2g}")
        lines.append(f"| {t} ({fs}, {md}) | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Total wall time per optimizer (s, all runs): " + ", ".join(
        f"{o} {walls.get(o, 0):.0f}" for o in optimizers) + ".")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed, first-seed+1, ...")
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--tasks", nargs="+", default=["synthetic"],
                        help="task names, or 'synthetic' (the 16) / 'sklearn' (the 3)")
    parser.add_argument("--optimizers", nargs="+", default=OPTIMIZERS)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--name", default="tpe_quality", help="results/<name>.json and .md")
    parser.add_argument("--json", default=None, help="only write raw results to this path")
    args = parser.parse_args()
    tasks = []
    for t in args.tasks:
        tasks += SYNTHETIC if t == "synthetic" else SKLEARN if t == "sklearn" else [t]
    jobs = [(t, o, s, args.evals) for t in tasks for s in range(args.first_seed, args.first_seed + args.seeds)
            for o in args.optimizers]
    results, walls = {}, {}
    start = time.perf_counter()
    with multiprocessing.Pool(args.processes) as pool:
        medians = dict(zip(tasks, pool.map(prior_median, [t for t in tasks if TASKS[t].group != "sklearn"])))
        for i, (t, o, s, trace, wall) in enumerate(pool.imap_unordered(run_one, jobs, chunksize=4)):
            results[(t, o, s)] = trace
            walls[o] = walls.get(o, 0.0) + wall
            if (i + 1) % 200 == 0:
                print(f"{i + 1}/{len(jobs)} runs, {time.perf_counter() - start:.0f} s", flush=True)
    f_stars = {t: TASKS[t].f_star for t in tasks}
    if any(TASKS[t].group == "sklearn" for t in tasks):
        # Best known value for the scikit-learn tasks: the best any run found.
        for t in tasks:
            if TASKS[t].group == "sklearn":
                f_stars[t] = min(results[k][-1] for k in results if k[0] == t)
                medians.pop(t, None)
    table, ranks, regrets = summarize(results, tasks, args.optimizers, medians, f_stars,
                                    range(args.first_seed, args.first_seed + args.seeds))
    md = render(tasks, args.optimizers, table, ranks, regrets, args.seeds, args.evals, medians, f_stars, walls)
    data = {"seeds": args.seeds, "evals": args.evals, "tasks": tasks, "optimizers": args.optimizers,
            "medians": medians, "f_stars": f_stars, "wall_s": walls,
            "results": [[t, o, s, r] for (t, o, s), r in results.items()],
            "ranks": {f"{t}|{o}": v for (t, o), v in ranks.items()},
            "regrets": {f"{t}|{o}": list(v) for (t, o), v in regrets.items()}}
    print(md)
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, default=float)
        return
    from common import write_results

    notes = []
    for t in tasks:
        if TASKS[t].note:
            notes.append(f"{t}: {TASKS[t].note}")
    if any(TASKS[t].group == "sklearn" for t in tasks):
        notes.append("scikit-learn tasks: f* is the best any run found; no normalized regret "
                     "(10,000 prior samples would cost hours)")
    notes.append("Optuna has no normal priors: normal-family parameters are searched on mu ± 4 sigma there")
    intro = (f"{args.evals} evaluations per run, {args.seeds} seeds ({args.first_seed}..{args.first_seed + args.seeds - 1}, the same for every "
             f"optimizer), {len(tasks)} tasks. Notes: " + "; ".join(notes) + ".\n\n")
    write_results(args.name, data, intro + md)


if __name__ == "__main__":
    main()
