"""Plain fmin with TPE on a 2-d function (Hyperopt's README example)."""
import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe


def objective(params):
    return {"loss": (params["x"] - 1.0) ** 2 + (params["y"] + 2.0) ** 2, "status": STATUS_OK}


trials = Trials()
best = fmin(objective, {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)},
            algo=tpe.suggest, max_evals=60, trials=trials, rstate=np.random.default_rng(0),
            show_progressbar=False)
assert set(best) == {"x", "y"} and len(trials.trials) == 60
print("BEST_LOSS", min(trials.losses()))
