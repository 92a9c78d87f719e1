"""A conditional space: the classifier chosen decides which parameters exist."""
import math

import numpy as np
from hyperopt import Trials, fmin, hp, space_eval, tpe
from hyperopt.pyll import scope

space = hp.choice("classifier", [
    {"type": "svm", "C": hp.loguniform("svm_C", math.log(1e-3), math.log(1e3)),
     "kernel": hp.choice("svm_kernel", [
         {"name": "linear"},
         {"name": "rbf", "gamma": hp.loguniform("rbf_gamma", math.log(1e-4), math.log(1))}])},
    {"type": "forest", "depth": scope.int(hp.quniform("forest_depth", 1, 10, 1)),
     "criterion": hp.choice("forest_criterion", ["gini", "entropy"])},
])


def objective(cfg):
    if cfg["type"] == "svm":
        loss = abs(math.log10(cfg["C"]) - 1.0)
        if cfg["kernel"]["name"] == "rbf":
            loss += abs(math.log10(cfg["kernel"]["gamma"]) + 2.0)
        return loss + 0.5
    assert isinstance(cfg["depth"], int)
    return abs(cfg["depth"] - 6) / 3.0 + (0.0 if cfg["criterion"] == "entropy" else 0.2)


trials = Trials()
best = fmin(objective, space, algo=tpe.suggest, max_evals=80, trials=trials,
            rstate=np.random.default_rng(0), show_progressbar=False)
chosen = space_eval(space, best)
assert chosen["type"] in ("svm", "forest")
# Inactive branches have no value: only the chosen option's labels are in the trial.
for t in trials.trials:
    vals = t["misc"]["vals"]
    assert (len(vals["svm_C"]) == 1) == (vals["classifier"][0] == 0)
print("BEST", chosen)
print("BEST_LOSS", min(trials.losses()))
