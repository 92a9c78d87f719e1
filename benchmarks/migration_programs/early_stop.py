"""Early stopping with no_progress_loss."""
import numpy as np
from hyperopt import Trials, fmin, hp, tpe
from hyperopt.early_stop import no_progress_loss

trials = Trials()
fmin(lambda x: (x - 1.0) ** 2, hp.uniform("x", -5, 5), algo=tpe.suggest, max_evals=500,
     trials=trials, early_stop_fn=no_progress_loss(10), rstate=np.random.default_rng(0),
     show_progressbar=False)
assert len(trials.trials) < 500
print("TRIALS", len(trials.trials))
print("BEST_LOSS", min(trials.losses()))
