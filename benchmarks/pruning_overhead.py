"""Pruning overhead: the cost of one ``hpo.report(step, loss)`` call, in memory and on stores.

Each trial of a search reports ``--steps`` times a loss that is the same for every trial
(``1 / step``), so that no trial is pruned and every report pays for the pruner's decision
when one is due (every step for the median rule, at each rung for ASHA). The objective times
each call with ``time.perf_counter`` and returns the mean; the table gives the median of the
trials' means. In memory the search runs in this process; on SQLite (and MongoDB with
``--mongo``) an in-process ``hpo.worker.loop.Worker`` runs the queued trials, with its store
counting the commands a report issues: the write of the report (``checkpoint``) and the
incremental reads of the other trials' reports (``changes_since``, with the number of
documents each returns).

    python benchmarks/pruning_overhead.py [--trials 20] [--steps 200] [--mongo]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import tempfile
import time

import numpy as np
from common import RESULTS, command_line, start_mongo_server, versions

COUNTED = ("checkpoint", "changes_since", "get_trials")


def make_objective(steps):
    def objective(params):
        import hpo

        spent = 0.0
        for step in range(1, steps + 1):
            start = time.perf_counter()
            hpo.report(step, 1.0 / step)
            spent += time.perf_counter() - start
        return {"loss": params["x"], "status": "ok", "report_us": 1e6 * spent / steps}
    return objective


def pruners():
    from hpo.pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner

    return {"none": None, "median": MedianPruner(n_startup_trials=1),
            "asha": SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
            "hyperband": HyperbandPruner(min_resource=1, max_resource=243, reduction_factor=3)}


def in_memory(pruner, n_trials, steps):
    from hpo import Trials, fmin, hp, rand

    trials = Trials()
    fmin(make_objective(steps), {"x": hp.uniform("x", 0, 1)}, algo=rand.suggest,
         max_evals=n_trials, trials=trials, pruner=pruner, rstate=np.random.default_rng(0),
         show_progressbar=False)
    return {"report_us": statistics.median(t["result"]["report_us"] for t in trials)}


def counting(store):
    """``store`` whose class counts the calls of COUNTED methods and the documents read."""
    base = type(store)

    def counted(name):
        def method(self, *args, **kwargs):
            self.calls[name] += 1
            out = getattr(base, name)(self, *args, **kwargs)
            if name == "changes_since":
                self.docs_read += len(out[0])
            return out
        return method

    store.__class__ = type(f"Counting{base.__name__}", (base,),
                           {name: counted(name) for name in COUNTED})
    store.calls, store.docs_read = collections.Counter(), 0
    return store


def on_store(url, pruner, n_trials, steps):
    from hpo import hp, rand
    from hpo.base import Domain
    from hpo.stores import open_store
    from hpo.stores.domain import store_domain
    from hpo.stores.trials import StoreTrials
    from hpo.worker.loop import Worker

    store = counting(open_store(url, connect_timeout=20))
    trials = StoreTrials(store, exp_key="overhead")
    domain = Domain(make_objective(steps), {"x": hp.uniform("x", 0, 1)}, pruner=pruner)
    trials.domain_sha256 = store_domain(store, "overhead", domain)
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(n_trials), domain, trials, 0))
    store.calls.clear()
    store.docs_read = 0
    Worker(store, exp_key="overhead", max_jobs=n_trials, heartbeat=60).run()
    calls, docs_read = dict(store.calls), store.docs_read
    trials.refresh()
    n_reports = n_trials * steps
    out = {"report_us": statistics.median(t["result"]["report_us"] for t in trials),
           "writes_per_report": calls.get("checkpoint", 0) / n_reports,
           "reads_per_report": (calls.get("changes_since", 0) + calls.get("get_trials", 0))
           / n_reports,
           "docs_read_per_report": docs_read / n_reports}
    store.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--mongo", action="store_true", help="also measure on MongoDB")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stores = [("memory", None), ("sqlite", None)]
        mongo = None
        if args.mongo:
            mongo, mongo_url = start_mongo_server(os.path.join(tmp, "mongo"))
            stores.append(("mongo", mongo_url.replace("mongodb://", "mongo://")))
        try:
            for kind, base_url in stores:
                for name, pruner in pruners().items():
                    if kind == "memory":
                        row = in_memory(pruner, args.trials, args.steps)
                    elif kind == "sqlite":
                        url = f"sqlite:///{os.path.join(tmp, f'{name}.db')}"
                        row = on_store(url, pruner, args.trials, args.steps)
                    else:
                        row = on_store(f"{base_url}/overhead_{name}/jobs", pruner, args.trials,
                                       args.steps)
                    rows.append({"store": kind, "pruner": name, **row})
                    print(json.dumps(rows[-1]))
        finally:
            if mongo is not None:
                mongo.kill()
                mongo.wait()
    write(rows, args)


def write(rows, args):
    data = {"command": command_line(), "versions": versions(), "trials": args.trials,
            "steps": args.steps, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pruning_overhead.json").write_text(json.dumps(data, indent=2))
    versions_line = ", ".join(f"{k} {v}" for k, v in data["versions"].items())
    summary = (f"Cost of one `hpo.report(step, loss)` call: {args.trials} trials x {args.steps} "
               f"reports each, every trial reporting the same curve (nothing is pruned, every "
               f"decision due is made). Median over trials of the mean time per call; store "
               f"commands per report counted on the worker's store. Median decides at every "
               f"step; ASHA and Hyperband at their rungs (1, 3, 9, 27, 81 for {args.steps} "
               f"steps). The MongoDB server is the test suite's MongoDB-protocol server "
               f"(secantusd-py, a Python process syncing every commit), not mongod.")
    header = ("| store | pruner | μs per report | writes per report | reads per report | "
              "documents read per report |")
    lines = [f"Command: `{data['command']}`", "", f"Versions: {versions_line}", "", summary, "",
             header, "|---|---|---|---|---|---|"]
    for r in rows:
        store_cols = ("—", "—", "—") if r["store"] == "memory" else (
            f"{r['writes_per_report']:.3f}", f"{r['reads_per_report']:.3f}",
            f"{r['docs_read_per_report']:.3f}")
        cells = [r["store"], r["pruner"], f"{r['report_us']:.1f}", *store_cols]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", ("In memory a report appends to the running trial's document and, when a "
              "decision is due, reads the incrementally maintained index of all trials' "
              "reports (no pass over the trials). On a store each report is one write of the "
              "running document, and a due decision one incremental read of the documents "
              "changed since the worker's last read (never a rescan of the experiment).")]
    (RESULTS / "pruning_overhead.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
