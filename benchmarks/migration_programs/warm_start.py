"""Warm start from known points, one of them outside the space's bounds."""
import numpy as np
from hyperopt import Trials, fmin, hp, tpe
from hyperopt.fmin import generate_trials_to_calculate

space = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", 0, 1)}
# The second point lies outside x's bounds: Hyperopt evaluates it as given.
trials = generate_trials_to_calculate([{"x": 1.0, "y": 0.5}, {"x": 7.5, "y": 0.25}])


def objective(p):
    return (p["x"] - 1.0) ** 2 + (p["y"] - 0.5) ** 2


fmin(objective, space, algo=tpe.suggest, max_evals=30, trials=trials,
     rstate=np.random.default_rng(0), show_progressbar=False)
first_two = [t["misc"]["vals"]["x"][0] for t in trials.trials[:2]]
assert first_two == [1.0, 7.5], first_two
assert trials.losses()[:2] == [0.0, 6.5 ** 2 + 0.25 ** 2]
# Hyperopt 0.3 evaluates the two given points on top of max_evals new ones (32 trials);
# hpo counts them in max_evals (30), as it counts any trial already in `trials`.
assert len(trials.trials) >= 30
print("TRIALS", len(trials.trials))
print("BEST_LOSS", min(trials.losses()))
