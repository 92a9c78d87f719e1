"""Hyperopt's module paths: algorithm modules, hp functions, MongoTrials (imported only)."""
import hyperopt.anneal
import hyperopt.rand
import hyperopt.tpe
import numpy as np
from hyperopt import Trials, fmin
from hyperopt.hp import choice, quniform, uniform
from hyperopt.mongoexp import MongoTrials  # noqa: F401  (imported, not used: needs a server)

space = {"x": uniform("x", -3, 3), "n": quniform("n", 1, 9, 1), "act": choice("act", ["a", "b"])}


def objective(p):
    return p["x"] ** 2 + abs(p["n"] - 4) + (0 if p["act"] == "b" else 1)


losses = []
for algo in (hyperopt.rand.suggest, hyperopt.anneal.suggest, hyperopt.tpe.suggest):
    trials = Trials()
    fmin(objective, space, algo=algo, max_evals=25, trials=trials,
         rstate=np.random.default_rng(0), show_progressbar=False)
    losses.append(min(trials.losses()))
print("LOSSES", losses)
print("BEST_LOSS", min(losses))
