"""A script written against Hyperopt 0.3's public API (run after replacing its imports)."""

import numpy as np
from hyperopt import (
    JOB_STATE_DONE,
    STATUS_FAIL,
    STATUS_OK,
    Trials,
    anneal,
    fmin,
    hp,
    rand,
    space_eval,
    tpe,
)
from hyperopt.early_stop import no_progress_loss
from hyperopt.exceptions import AllTrialsFailed
from hyperopt.fmin import generate_trials_to_calculate
from hyperopt.pyll import scope
from hyperopt.pyll.stochastic import sample

space = {
    "lr": hp.loguniform("lr", np.log(1e-4), np.log(1)),
    "units": scope.int(hp.quniform("units", 16, 128, 16)),
    "layers": hp.randint("layers", 1, 4),
    "drop": hp.uniform("drop", 0, 0.5),
    "width": hp.uniformint("width", 2, 8),
    "noise": hp.normal("noise", 0, 1),
    "scale": hp.lognormal("scale", 0, 0.5),
    "steps": hp.qnormal("steps", 10, 2, 1),
    "decay": hp.qloguniform("decay", np.log(1), np.log(100), 1),
    "bins": hp.qlognormal("bins", 2, 0.5, 1),
    "act": hp.pchoice("act", [(0.7, "relu"), (0.3, "tanh")]),
    "opt": hp.choice("opt", [
        {"name": "sgd", "momentum": hp.uniform("momentum", 0, 1)},
        {"name": "adam", "beta": hp.choice("beta", [0.9, 0.99])},
    ]),
}


def objective(params):
    if params["drop"] > 0.45:
        return {"status": STATUS_FAIL, "loss": None}
    loss = (np.log10(params["lr"]) + 2) ** 2 + params["drop"] + params["noise"] ** 2
    return {"loss": loss, "status": STATUS_OK, "units": params["units"]}


print("sample:", sorted(sample(space, rng=np.random.default_rng(0))))
for algo in (tpe.suggest, rand.suggest, anneal.suggest):
    trials = Trials()
    best = fmin(objective, space, algo=algo, max_evals=40, trials=trials,
                rstate=np.random.default_rng(1), show_progressbar=False,
                early_stop_fn=no_progress_loss(30))
    config = space_eval(space, best)
    assert isinstance(config["units"], int) and config["opt"]["name"] in ("sgd", "adam")
    assert trials.best_trial["result"]["loss"] == min(l for l in trials.losses() if l is not None)
    assert all(t["state"] == JOB_STATE_DONE for t in trials.trials)
    print(algo.__module__, "best loss", round(trials.best_trial["result"]["loss"], 4), len(trials))

trials = generate_trials_to_calculate([{"x": 0.5}])
best = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=tpe.suggest, max_evals=5,
            trials=trials, rstate=np.random.default_rng(2), show_progressbar=False)
assert trials.trials[0]["result"]["loss"] == 0.25
try:
    fmin(lambda x: {"status": STATUS_FAIL}, hp.uniform("x", 0, 1), algo=rand.suggest,
         max_evals=3, show_progressbar=False)
except AllTrialsFailed:
    print("all trials failed, as expected")
trials.attachments["note"] = b"kept"
print("done")
