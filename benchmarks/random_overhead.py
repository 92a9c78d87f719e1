"""Random search overhead: hpo vs Hyperopt `rand` vs Optuna `RandomSampler`, side by side.

Same 10-d mixed space (6 uniform, 2 loguniform, 2 choice), a trivial objective, 200 / 500 /
1000 / 2000 evaluations; each cell is the median wall time of `--repeats` runs.

    python benchmarks/random_overhead.py --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import statistics

import numpy as np

from common import (
    hpo_mixed_space,
    hyperopt_mixed_space,
    mixed_objective,
    optuna_mixed_params,
    timed,
    write_results,
)

SIZES = (200, 500, 1000, 2000)


def run_hpo(n, seed):
    from hpo import Trials, fmin, rand

    fmin(mixed_objective, hpo_mixed_space(), algo=rand.suggest, max_evals=n, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False)


def run_hyperopt(n, seed):
    from hyperopt import Trials, fmin, rand

    fmin(mixed_objective, hyperopt_mixed_space(), algo=rand.suggest, max_evals=n, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False)


def run_optuna(n, seed):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(lambda t: mixed_objective(optuna_mixed_params(t)), n_trials=n)


RUNNERS = {"hpo rand": run_hpo, "hyperopt rand": run_hyperopt, "optuna RandomSampler": run_optuna}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    seconds = {name: {} for name in RUNNERS}
    for n in SIZES:
        for name, runner in RUNNERS.items():
            times = [timed(lambda: runner(n, seed))[0] for seed in range(args.repeats)]
            seconds[name][n] = statistics.median(times)
            print(f"{name:22s} {n:5d} trials: {seconds[name][n]:.3f} s", flush=True)
    rows = ["| optimizer | " + " | ".join(f"{n} trials (s)" for n in SIZES) + " | ms/trial at 2000 |",
            "|---|" + "---|" * (len(SIZES) + 1)]
    for name in RUNNERS:
        cells = " | ".join(f"{seconds[name][n]:.3f}" for n in SIZES)
        rows.append(f"| {name} | {cells} | {1000 * seconds[name][2000] / 2000:.3f} |")
    hpo_2000 = seconds["hpo rand"][2000]
    ratios = (f"At 2000 trials hpo takes {hpo_2000 / seconds['hyperopt rand'][2000]:.3f}× the time of "
              f"Hyperopt's rand and {hpo_2000 / seconds['optuna RandomSampler'][2000]:.3f}× that of "
              f"Optuna's RandomSampler (targets: ≤ 0.2 and ≤ 0.5).")
    markdown = (f"Median wall time of {args.repeats} runs of `fmin`/`study.optimize` with random "
                f"search, trivial objective, 10-d mixed space, no progress bar.\n\n"
                + "\n".join(rows) + "\n\n" + ratios)
    write_results("random_overhead", {"seconds": seconds, "repeats": args.repeats}, markdown)
    print(ratios)


if __name__ == "__main__":
    main()
