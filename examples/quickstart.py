"""Quickstart: tune a scikit-learn-free toy model with TPE in a few seconds.

Run it with ``python examples/quickstart.py``.
"""

import math

from hpo import STATUS_OK, Trials, fmin, hp, space_eval, tpe

# A space with a conditional branch: each optimizer has its own hyperparameters.
space = {
    "optimizer": hp.choice("optimizer", [
        {"name": "sgd", "lr": hp.loguniform("sgd_lr", math.log(1e-4), math.log(1.0)),
         "momentum": hp.uniform("momentum", 0.0, 0.99)},
        {"name": "adam", "lr": hp.loguniform("adam_lr", math.log(1e-5), math.log(1e-1))},
    ]),
    "layers": hp.randint("layers", 1, 5),          # 1..4
    "dropout": hp.quniform("dropout", 0.0, 0.5, 0.05),
}


def objective(params):
    """A made-up validation loss with a known best region (adam, lr ~ 3e-3, 2 layers)."""
    opt = params["optimizer"]
    if opt["name"] == "adam":
        loss = (math.log10(opt["lr"]) + 2.5) ** 2
    else:
        loss = 0.5 + (math.log10(opt["lr"]) + 1.5) ** 2 + (opt["momentum"] - 0.9) ** 2
    loss += 0.1 * (params["layers"] - 2) ** 2 + (params["dropout"] - 0.2) ** 2
    return {"loss": loss, "status": STATUS_OK, "layers": params["layers"]}


if __name__ == "__main__":
    trials = Trials()
    best = fmin(objective, space, algo=tpe.suggest, max_evals=100, trials=trials)
    print("best trial loss:", round(trials.best_trial["result"]["loss"], 4))
    print("best configuration:", space_eval(space, best))
