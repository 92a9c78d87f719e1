"""Stop hopeless trials early: TPE with a Hyperband pruner on a simulated training curve.

Run it with ``python examples/pruning.py``. Each trial "trains" for up to 27 epochs; its
validation loss falls towards a floor set by the hyperparameters. The objective reports the
loss after every epoch, and the pruner stops trials whose loss at a rung (epochs 1, 3, 9) is
not among the best third of their bracket. Pruned trials still inform TPE (by their last
report), so the search is BOHB-like. Pass ``--workers 2`` to run the same search with two
worker processes on a SQLite file: pruning decisions then use the reports of the trials
running in the other worker.
"""

import argparse
import math
import os
import tempfile

import numpy as np

import hpo
from hpo import fmin, hp, tpe
from hpo.pruners import HyperbandPruner

space = {
    "lr": hp.loguniform("lr", math.log(1e-4), math.log(1.0)),
    "width": hp.quniform("width", 16, 256, 16),
    "dropout": hp.uniform("dropout", 0.0, 0.6),
}

MAX_EPOCHS = 27


def objective(params):
    """A made-up training run: the best region is lr ~ 0.01, width 128, dropout ~ 0.2."""
    floor = ((math.log10(params["lr"]) + 2) ** 2 + ((params["width"] - 128) / 128) ** 2
             + (params["dropout"] - 0.2) ** 2)
    speed = 0.1 + 0.4 * min(params["lr"] * 50, 1.0)
    loss = None
    for epoch in range(1, MAX_EPOCHS + 1):
        loss = floor + 2.0 * math.exp(-speed * epoch)
        if hpo.report(epoch, loss):
            raise hpo.TrialPruned()
    return loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=0,
                        help="run the trials in this many worker processes (SQLite store)")
    parser.add_argument("--max-evals", type=int, default=100)
    args = parser.parse_args()
    pruner = HyperbandPruner(min_resource=1, max_resource=MAX_EPOCHS, reduction_factor=3)
    if args.workers:
        trials = hpo.StoreTrials("sqlite:///" + os.path.join(tempfile.mkdtemp(), "pruning.db"),
                                 exp_key="pruning")
    else:
        trials = hpo.Trials()
    fmin(objective, space, algo=tpe.suggest, max_evals=args.max_evals, trials=trials,
         pruner=pruner, n_workers=args.workers or None, rstate=np.random.default_rng(0))
    statuses = trials.statuses()
    epochs = sum(len(t["result"]["intermediate"]) for t in trials)
    print(f"{statuses.count('pruned')} of {len(trials)} trials pruned; "
          f"{epochs} epochs trained instead of {len(trials) * MAX_EPOCHS}")
    print("best loss:", round(trials.best_trial["result"]["loss"], 4),
          "with", hpo.space_eval(space, trials.argmin))


if __name__ == "__main__":
    main()
