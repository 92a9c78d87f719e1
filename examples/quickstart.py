"""Quickstart: a TPE search with two parallel workers on the embedded SQLite store.

Run it with ``python examples/quickstart.py``. Every trial is kept in ``quickstart.db``; run
the script again and the search resumes there (``max_evals`` counts the stored trials), so it
only reports the best trial. Delete the file to start over.
"""

import math

from hpo import STATUS_OK, StoreTrials, fmin, hp, space_eval, tpe

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
    # The embedded default store: one SQLite file, no server. n_workers=2 starts two local
    # worker processes for the duration of the search.
    trials = StoreTrials("sqlite:///quickstart.db", exp_key="quickstart")
    best = fmin(objective, space, algo=tpe.suggest, max_evals=100, trials=trials, n_workers=2)
    print("best trial loss:", round(trials.best_trial["result"]["loss"], 4))
    print("best configuration:", space_eval(space, best))
