"""The same trivial 50-trial search through MongoDB: hpo (pymongo 4) vs Hyperopt's MongoTrials.

Hyperopt 0.3.0 calls pymongo APIs that pymongo 4 removed, so its MongoTrials only runs at all
with pymongo 3: its half runs in a separate virtualenv, ``benchmarks/.env-hyperopt-mongo``
(``python3 -m venv benchmarks/.env-hyperopt-mongo && benchmarks/.env-hyperopt-mongo/bin/pip
install hyperopt==0.3.0 "pymongo<4"``). Both use 2 workers, already started, against the same
SecantusDB server on loopback (or ``--url mongodb://host:port``); Hyperopt runs with its
defaults (``hyperopt-mongo-worker`` polls every 1-5 s; the driver every 1 s).

    python benchmarks/stores_hyperopt_mongo.py [--trials 50] [--workers 2] [--url mongodb://...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import mongo_base_url

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
HYPEROPT_PYTHON = HERE / ".env-hyperopt-mongo" / "bin" / "python"


def objective(x):
    return (x - 1.0) ** 2


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_hpo(base, n_trials, n_workers):
    sys.path.insert(0, str(HERE.parent))
    import numpy as np

    from hpo import fmin, hp, rand
    from hpo.stores.trials import MongoTrials

    url = base.replace("mongodb://", "mongo://") + "/hpo_bench/jobs"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(HERE.parent)]))
    procs = [subprocess.Popen([sys.executable, "-m", "hpo.cli", "worker", "--store", url,
                               "--exp-key", "cmp", "--log-level", "WARNING"], env=env)
             for _ in range(n_workers)]
    try:
        trials = MongoTrials(url, exp_key="cmp", connect_timeout=30)
        wait_for(lambda: len(trials.store.live_workers("cmp", 60)) >= n_workers, 60, "workers")
        start = time.perf_counter()
        fmin(objective, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=n_trials,
             trials=trials, show_progressbar=False, rstate=np.random.default_rng(0))
        wall = time.perf_counter() - start
        done = trials.count_by_state_unsynced(2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    return {"wall_s": round(wall, 3), "done": done}


def hyperopt_driver(host_port, n_trials, out):
    """Runs under the pymongo-3 virtualenv."""
    import numpy as np
    from hyperopt import fmin, hp, rand
    from hyperopt.mongoexp import MongoTrials

    trials = MongoTrials(f"mongo://{host_port}/hyperopt_bench/jobs", exp_key="cmp")
    start = time.perf_counter()
    fmin(objective, hp.uniform("x", -5, 5), algo=rand.suggest, max_evals=n_trials,
         trials=trials, show_progressbar=False, rstate=np.random.default_rng(0))
    wall = time.perf_counter() - start
    trials.refresh()
    Path(out).write_text(json.dumps({"wall_s": round(wall, 3),
                                     "done": sum(1 for t in trials.trials if t["state"] == 2)}))


def run_hyperopt(base, n_trials, n_workers, tmp, limit):
    if not HYPEROPT_PYTHON.exists():
        return {"error": f"{HYPEROPT_PYTHON} does not exist; create it as the docstring says"}
    host_port = base.split("://", 1)[1]
    env = dict(os.environ, PYTHONPATH=str(HERE))
    worker_bin = HYPEROPT_PYTHON.parent / "hyperopt-mongo-worker"
    procs = [subprocess.Popen([str(worker_bin), f"--mongo={host_port}/hyperopt_bench",
                               "--exp-key=cmp"], env=env, cwd=tmp,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(n_workers)]
    out = os.path.join(tmp, "hyperopt.json")
    try:
        driver = subprocess.run([str(HYPEROPT_PYTHON), str(Path(__file__)), "--hyperopt-driver",
                                 host_port, str(n_trials), out], env=env, cwd=tmp,
                                capture_output=True, text=True, timeout=limit)
        if driver.returncode != 0:
            return {"error": driver.stderr.strip().splitlines()[-1] if driver.stderr else
                    f"exit code {driver.returncode}"}
        return json.loads(Path(out).read_text())
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {limit} s"}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def hyperopt_under_pymongo4(base, tmp):
    """What Hyperopt's MongoTrials does under this interpreter's pymongo 4 (if installed)."""
    code = ("import pymongo; from hyperopt import fmin, hp, rand; "
            "from hyperopt.mongoexp import MongoTrials; "
            f"t = MongoTrials('mongo://{base.split('://', 1)[1]}/hyperopt_pymongo4/jobs', "
            "exp_key='x'); fmin(lambda x: x, hp.uniform('x', 0, 1), algo=rand.suggest, "
            "max_evals=2, trials=t, show_progressbar=False)")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, cwd=tmp)
    except subprocess.TimeoutExpired:
        return "did not finish within 60 s"
    if proc.returncode == 0:
        return "ran"
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--hyperopt-driver":
        return hyperopt_driver(argv[1], int(argv[2]), argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", default=None)
    parser.add_argument("--limit", type=float, default=400.0, help="seconds allowed to Hyperopt")
    args = parser.parse_args(argv)
    command = "python benchmarks/stores_hyperopt_mongo.py " + shlex.join(argv)
    with tempfile.TemporaryDirectory() as tmp, mongo_base_url(args.url, os.path.join(tmp, "data")) as base:
        hpo_row = run_hpo(base, args.trials, args.workers)
        print("hpo", hpo_row, flush=True)
        hyperopt_row = run_hyperopt(base, args.trials, args.workers, tmp, args.limit)
        print("hyperopt", hyperopt_row, flush=True)
        pymongo4 = hyperopt_under_pymongo4(base, tmp)
        print("hyperopt under pymongo 4:", pymongo4, flush=True)
    result = {"benchmark": "stores_hyperopt_mongo", "command": command.strip(),
              "trials": args.trials, "workers": args.workers,
              "server": "SecantusDB 0.7.0b3" if args.url is None else args.url,
              "hpo": hpo_row, "hyperopt": hyperopt_row, "hyperopt_under_pymongo4": pymongo4,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stores_hyperopt_mongo.json").write_text(json.dumps(result, indent=2) + "\n")

    def cell(row):
        if "error" in row:
            return f"did not run: {row['error']}", "-"
        return f"{row['wall_s']:.2f}", str(row["done"])
    lines = [f"## MongoDB: the same trivial {args.trials}-trial search, hpo vs Hyperopt "
             f"MongoTrials ({args.workers} workers)", "", f"Command: `{command.strip()}`", "",
             f"Server: {result['server']}. Hyperopt 0.3.0 needs pymongo 3 to run at all (it "
             f"calls APIs pymongo 4 removed), so it runs from `benchmarks/.env-hyperopt-mongo` "
             f"with pymongo<4, with its default poll intervals; hpo runs with pymongo 4. "
             f"Workers are started before the timed `fmin` call. Hyperopt's MongoTrials under "
             f"pymongo 4 (this interpreter): `{pymongo4}`.", "",
             "| | wall (s) | DONE trials |", "|---|---|---|",
             "| hpo `MongoTrials` + `hpo-worker` | %s | %s |" % cell(hpo_row),
             "| Hyperopt `MongoTrials` + `hyperopt-mongo-worker` | %s | %s |" % cell(hyperopt_row)]
    (RESULTS / "stores_hyperopt_mongo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
