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


def copy_experiments(src_url, dst_url, exp_keys):
    """Copy the finished trials of ``exp_keys`` to another store through the store protocol
    (insert, reserve, finish: what a driver and a worker do)."""
    from hpo.stores import open_store

    src, dst = open_store(src_url), open_store(dst_url, connect_timeout=20)
    try:
        for exp_key in exp_keys:
            docs, _ = src.changes_since(exp_key, None)
            docs = [d for d in docs if d["state"] in (2, 3)]
            results = {d["tid"]: (d["state"], d["result"]) for d in docs}
            for d in docs:
                for key in ("owner", "book_time", "refresh_time", "version", "attempt", "heartbeat"):
                    d.pop(key, None)
                d.update(state=0, result={"status": "new"})
            dst.insert_trials(docs)
            while (doc := dst.reserve("copier", exp_key)) is not None:
                state, result = results[doc["tid"]]
                dst.finish(exp_key, doc["tid"], "copier", doc["attempt"], state, result)
    finally:
        src.close()
        dst.close()
