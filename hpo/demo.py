"""``hpo demo``: a small, real search on a two-parameter function with a conditional branch."""

from __future__ import annotations

import math

import numpy as np


def objective(params):
    """Branin's function on the chosen branch; the other branch is a worse constant."""
    if params["kind"]["name"] == "constant":
        return 20.0
    x, y = params["kind"]["x"], params["kind"]["y"]
    return (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2 + 10 * (
        1 - 1 / (8 * math.pi)
    ) * math.cos(x) + 10


def add_arguments(parser):
    parser.add_argument("--max-evals", type=int, default=100, help="number of trials (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--algo", default="tpe", choices=["tpe", "rand", "anneal"], help="algorithm")


def run(args):
    from . import Trials, fmin, hp, space_eval
    from . import algos

    space = {"kind": hp.choice("kind", [
        {"name": "branin", "x": hp.uniform("x", -5, 10), "y": hp.uniform("y", 0, 15)},
        {"name": "constant"},
    ])}
    algo = getattr(algos, args.algo).suggest
    trials = Trials()
    rstate = np.random.default_rng(args.seed) if args.seed is not None else None
    best = fmin(objective, space, algo=algo, max_evals=args.max_evals, trials=trials, rstate=rstate)
    print(f"best loss {trials.best_trial['result']['loss']:.4f} (optimum 0.3979) after {len(trials)} trials")
    print("best configuration:", space_eval(space, best))
    return 0
