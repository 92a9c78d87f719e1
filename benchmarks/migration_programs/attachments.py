"""Results carrying attachments, read back per trial (Hyperopt's documented pattern)."""
import pickle

import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, rand


def objective(x):
    return {"loss": (x - 0.3) ** 2, "status": STATUS_OK,
            "attachments": {"time_module": pickle.dumps({"x": x})}}


trials = Trials()
fmin(objective, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=20, trials=trials,
     rstate=np.random.default_rng(0), show_progressbar=False)
for trial in trials.trials:
    blob = trials.trial_attachments(trial)["time_module"]
    assert pickle.loads(blob)["x"] == trial["misc"]["vals"]["x"][0]
    assert "attachments" not in trial["result"]
print("BEST_LOSS", min(trials.losses()))
