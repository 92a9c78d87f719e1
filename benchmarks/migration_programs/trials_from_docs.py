"""Copy a search's trial documents into a new Trials and continue it."""
import hyperopt.base
import numpy as np
from hyperopt import Trials, fmin, hp, tpe

space = hp.uniform("x", -10, 10)


def objective(x):
    return (x - 2.0) ** 2


first = Trials()
fmin(objective, space, algo=tpe.suggest, max_evals=15, trials=first,
     rstate=np.random.default_rng(0), show_progressbar=False)
copied = hyperopt.base.trials_from_docs(first.trials)
assert len(copied.trials) == 15 and copied.losses() == first.losses()
fmin(objective, space, algo=tpe.suggest, max_evals=40, trials=copied,
     rstate=np.random.default_rng(1), show_progressbar=False)
assert len(copied.trials) == 40
print("BEST_LOSS", min(copied.losses()))
