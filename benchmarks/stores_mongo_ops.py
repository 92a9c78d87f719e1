"""Store commands per completed trial on MongoDB, counted with pymongo's command monitoring.

A SecantusDB server (the MongoDB-wire-protocol server the tests use) is started on loopback
unless ``--url mongodb://host:port`` names a server. The driver runs here; one worker runs in
a subprocess of this script that counts its own commands the same way.

    python benchmarks/stores_mongo_ops.py [--trials 50] [--sleep 0.0] [--url mongodb://host:port]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
from pymongo import monitoring  # noqa: E402

from common import mongo_base_url  # noqa: E402

RESULTS = HERE / "results"


class Counter(monitoring.CommandListener):
    def __init__(self):
        self.counts = collections.Counter()

    def started(self, event):
        self.counts[event.command_name] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def objective(params):
    sleep = float(os.environ.get("HPO_BENCH_SLEEP", "0"))
    if sleep:
        time.sleep(sleep)
    return (params["x"] - 1.0) ** 2


def worker_main(url, out):
    """Run one counted worker until it idles for 3 s, then write its counts to ``out``."""
    counter = Counter()
    monitoring.register(counter)
    from hpo.worker import Worker

    worker = Worker(url, exp_key="ops", reserve_timeout=3.0, poll_interval=0.5)
    worker.run()
    counts = dict(counter.counts)
    Path(out).write_text(json.dumps({"jobs": worker.jobs_done, "commands": counts}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--sleep", type=float, default=0.0, help="objective sleep (s)")
    parser.add_argument("--url", default=None, help="mongodb://host:port of a running server")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(*args.worker)
    command = "python benchmarks/stores_mongo_ops.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    counter = Counter()
    monitoring.register(counter)
    from hpo import fmin, hp, rand
    from hpo.stores.trials import MongoTrials

    with tempfile.TemporaryDirectory() as tmp, mongo_base_url(args.url, os.path.join(tmp, "data")) as base:
        url = base.replace("mongodb://", "mongo://") + f"/ops_{os.getpid()}/jobs"
        out = os.path.join(tmp, "worker.json")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]),
                   HPO_BENCH_SLEEP=str(args.sleep))
        os.environ["HPO_BENCH_SLEEP"] = str(args.sleep)
        worker = subprocess.Popen([sys.executable, str(Path(__file__)), "--worker", url, out],
                                  env=env)
        trials = MongoTrials(url, exp_key="ops", connect_timeout=30)
        end = time.monotonic() + 60
        while not trials.store.live_workers("ops", 60):
            if time.monotonic() > end:
                raise RuntimeError("the worker did not register")
            time.sleep(0.05)
        counter.counts.clear()
        start = time.perf_counter()
        fmin(objective, {"x": hp.uniform("x", -5, 5)}, algo=rand.suggest,
             max_evals=args.trials, trials=trials, show_progressbar=False,
             rstate=np.random.default_rng(0))
        wall = time.perf_counter() - start
        driver_counts = dict(counter.counts)
        worker.wait(timeout=120)
        worker_report = json.loads(Path(out).read_text())
    n = args.trials
    driver_total, worker_total = sum(driver_counts.values()), sum(worker_report["commands"].values())
    result = {
        "benchmark": "stores_mongo_ops", "command": command.strip(), "trials": n,
        "objective_sleep_s": args.sleep, "server": "SecantusDB 0.7.0b3" if args.url is None else args.url,
        "wall_s": round(wall, 3), "driver_commands": driver_counts,
        "worker_commands": worker_report["commands"], "worker_jobs": worker_report["jobs"],
        "driver_per_trial": round(driver_total / n, 2),
        "worker_per_trial": round(worker_total / n, 2),
        "total_per_trial": round((driver_total + worker_total) / n, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    RESULTS.mkdir(exist_ok=True)
    name = "stores_mongo_ops" if args.sleep == 0 else f"stores_mongo_ops_sleep{args.sleep:g}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")

    def fmt(counts):
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    lines = [f"## MongoDB store: commands per completed trial ({n} trials, objective sleeps "
             f"{args.sleep:g} s, 1 worker)", "", f"Command: `{command.strip()}`", "",
             f"Server: {result['server']}; counted with `pymongo.monitoring.CommandListener` in "
             f"the driver process and in the worker process (the worker's start-up and exit are "
             f"included, the driver's store opening is not). Wall time {wall:.2f} s.", "",
             "| process | commands | per completed trial | by command |", "|---|---|---|---|",
             f"| driver | {driver_total} | {result['driver_per_trial']:.2f} | {fmt(driver_counts)} |",
             f"| worker | {worker_total} | {result['worker_per_trial']:.2f} | "
             f"{fmt(worker_report['commands'])} |",
             f"| **driver + worker** | {driver_total + worker_total} | "
             f"**{result['total_per_trial']:.2f}** | |"]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
