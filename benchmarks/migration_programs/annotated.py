"""space="annotated": the space is read from the objective's annotations."""
import numpy as np
from hyperopt import Trials, fmin, hp, tpe


def objective(x: hp.uniform("x", -5, 5), k: hp.choice("k", [1, 2, 3])):
    return (x - 1.0) ** 2 + abs(k - 2)


trials = Trials()
best = fmin(objective, space="annotated", algo=tpe.suggest, max_evals=40, trials=trials,
            rstate=np.random.default_rng(0), show_progressbar=False)
assert set(best) == {"x", "k"}
print("BEST_LOSS", min(trials.losses()))
