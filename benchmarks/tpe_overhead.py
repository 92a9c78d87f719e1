"""TPE overhead: hpo TPE vs Hyperopt TPE vs Optuna TPE (univariate and multivariate).

One run of 2000 trials per optimizer on the 10-d mixed space (6 uniform, 2 loguniform,
2 choice) with a trivial objective; the objective records a timestamp per call, so the cost
per trial over the last 100 trials before 200, 500, 1000 and 2000 trials comes from the same
run. Runs are sequential (one process) so that they do not disturb each other's timings.

    python benchmarks/tpe_overhead.py
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from common import hpo_mixed_space, hyperopt_mixed_space, mixed_objective, optuna_mixed_params, write_results

SIZES = (200, 500, 1000, 2000)
OPTIMIZERS = ["hpo-tpe", "hpo-tpe univariate", "hyperopt-tpe", "optuna-tpe", "optuna-tpe multivariate"]


def run(optimizer, n, seed):
    """Timestamps (s since start) after each of ``n`` evaluations."""
    stamps = []
    start = time.perf_counter()

    def fn(params):
        stamps.append(time.perf_counter() - start)
        return mixed_objective(params)

    if optimizer.startswith("hpo-tpe"):
        from functools import partial

        from hpo import Trials, fmin, tpe

        algo = partial(tpe.suggest, multivariate=optimizer == "hpo-tpe")
        fmin(fn, hpo_mixed_space(), algo=algo, max_evals=n, trials=Trials(),
             rstate=np.random.default_rng(seed), show_progressbar=False)
    elif optimizer == "hyperopt-tpe":
        from hyperopt import Trials, fmin, tpe

        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        fmin(fn, hyperopt_mixed_space(), algo=tpe.suggest, max_evals=n, trials=Trials(),
             rstate=np.random.default_rng(seed), show_progressbar=False)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=optimizer.endswith("multivariate"))
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: fn(optuna_mixed_params(t)), n_trials=n)
    total = time.perf_counter() - start
    return np.array(stamps), total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=max(SIZES))
    parser.add_argument("--optimizers", nargs="+", default=OPTIMIZERS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [s for s in SIZES if s <= args.trials]
    rows, data = [], {}
    for opt in args.optimizers:
        stamps, total = run(opt, args.trials, args.seed)
        # ms per trial over the last 100 trials before each size (the timestamp of trial k is
        # taken when the objective of trial k starts).
        per = {n: 1000 * (stamps[n - 1] - stamps[n - 101]) / 100 for n in sizes}
        data[opt] = {"ms_per_trial": per, "total_s": total}
        rows.append((opt, per, total))
        print(opt, {n: round(v, 2) for n, v in per.items()}, f"total {total:.1f} s", flush=True)
    head = "| optimizer | " + " | ".join(f"ms/trial at {n}" for n in sizes) + f" | total for {args.trials} trials (s) |"
    lines = [f"Milliseconds per trial over the last 100 trials before each size, one run of {args.trials} "
             "trials per optimizer, trivial objective, 10-d mixed space (6 uniform, 2 loguniform, 2 choice), "
             "runs one after another in one process.\n", head, "|---" * (len(sizes) + 2) + "|"]
    for opt, per, total in rows:
        lines.append(f"| {opt} | " + " | ".join(f"{per[n]:.2f}" for n in sizes) + f" | {total:.1f} |")
    if "hpo-tpe" in data:
        ref = data["hpo-tpe"]["ms_per_trial"]
        ratios = [f"{opt}: {data[opt]['ms_per_trial'][n] / ref[n]:.1f}x" for opt in data if opt != "hpo-tpe"
                  for n in sizes[-1:]]
        lines.append("")
        lines.append(f"At {sizes[-1]} trials the others cost, relative to hpo-tpe (default, multivariate): "
                     + ", ".join(ratios) + ".")
    write_results("tpe_overhead", {"trials": args.trials, "seed": args.seed, "results": data}, "\n".join(lines))


if __name__ == "__main__":
    main()
