"""The search the dashboard tests watch (a module of its own, so that worker processes can
import its objective by name: a function of a ``conftest`` module would be looked up in
another ``conftest``)."""

from __future__ import annotations

import numpy as np

import hpo
from hpo import STATUS_FAIL, fmin, hp, rand
from hpo.stores import StoreTrials

# A conditional parameter (w, active only under model=1), a choice, and reports per step.
SPACE = {"x": hp.uniform("x", -2, 2),
         "model": hp.choice("model", [{"kind": "a"}, {"kind": "b", "w": hp.uniform("w", 0, 1)}])}


def objective(p):
    if p["x"] > 1.8:
        return {"status": STATUS_FAIL, "failure": "x too large"}
    loss = (p["x"] - 1) ** 2 + p["model"].get("w", 0.5)
    for step in range(1, 4):
        hpo.report(step, loss + 1 / step)
    return loss


def search(url, exp_key, n, seed=0):
    """Run ``n`` trials of the test search into ``url`` (one worker process)."""
    trials = StoreTrials(url, exp_key=exp_key)
    fmin(objective, SPACE, algo=rand.suggest, max_evals=n, trials=trials, n_workers=1,
         show_progressbar=False, rstate=np.random.default_rng(seed))
    return trials
