"""NAS-Bench-201 (CIFAR-10, CIFAR-100, ImageNet16-120): hpo TPE beside random search,
regularized evolution, Hyperopt TPE and Optuna TPE over the 15,625 cells.

A cell is 6 edges, each ``hp.choice`` over 5 ops (none, skip, conv 1x1, conv 3x3, avg pool
3x3); its loss is the validation error ``1 - accuracy / 100``, the mean over the table's seeds,
and the optimizer sees one seed's value per evaluation. Besides regret (against the table's
best cell), rank and wins, the report gives the number of *distinct* cells each run proposed:
a categorical space this small lets an optimizer re-propose cells it has already evaluated.
Runs are cached as in :mod:`tpe_tabular` (``benchmarks/results/runs/nas201/``).

    python benchmarks/nas201.py                                   # 30 seeds x 200 evaluations
    python benchmarks/nas201.py --optimizers hpo-tpe:n_startup_jobs=10 random regularized-evolution \\
        --seeds 10 --no-write
"""

from __future__ import annotations

import tpe_tabular

OPTIMIZERS = ["hpo-tpe", "random", "regularized-evolution", "hyperopt-tpe", "optuna-tpe"]


def main(argv=None):
    return tpe_tabular.main(
        argv, description=__doc__.split("\n\n")[0], default_tasks=("nas201",), default_optimizers=OPTIMIZERS,
        default_name="nas201_tpe", distinct_note="(of 15,625 cells) ",
        intro="Regularized evolution: population 20, sample 10, one-edge mutation, aging. ")


if __name__ == "__main__":
    main()
