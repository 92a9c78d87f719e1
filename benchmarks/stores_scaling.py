"""Parallel scaling on the SQLite store: an objective sleeping 0.2 s, 200 trials, 1/2/4/8 workers.

Efficiency = ideal time / measured time, where ideal = trials * 0.2 s / workers. The search is
timed from the moment every worker is registered (``hpo-worker`` processes started before
``fmin``); the end-to-end time of ``fmin(..., n_workers=N)`` (which starts the workers itself,
so includes their Python start-up) is reported beside it.

    python benchmarks/stores_scaling.py [--trials 200] [--sleep 0.2] [--workers 1 2 4 8]
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

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hpo import fmin, hp, rand  # noqa: E402
from hpo.stores.trials import StoreTrials  # noqa: E402

RESULTS = HERE / "results"
SLEEP = 0.2


def objective(params):
    time.sleep(SLEEP)
    return (params["x"] - 1.0) ** 2


SPACE = {"x": hp.uniform("x", -5, 5)}


def start_workers(url, n):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    return [subprocess.Popen([sys.executable, "-m", "hpo.cli", "worker", "--store", url,
                              "--exp-key", "bench", "--log-level", "WARNING",
                              "--poll-interval", "0.1"], env=env, stdin=subprocess.DEVNULL)
            for _ in range(n)]


def wait_registered(trials, n, timeout=120):
    end = time.monotonic() + timeout
    while len(trials.store.live_workers("bench", 60)) < n:
        if time.monotonic() > end:
            raise RuntimeError(f"{n} workers did not register within {timeout} s")
        time.sleep(0.05)


def run_one(n_workers, n_trials, workdir):
    url = f"sqlite:///{workdir}/scaling_{n_workers}.db"
    trials = StoreTrials(url, exp_key="bench")
    procs = start_workers(url, n_workers)
    try:
        wait_registered(trials, n_workers)
        start = time.perf_counter()
        fmin(objective, SPACE, algo=rand.suggest, max_evals=n_trials, trials=trials,
             show_progressbar=False, rstate=np.random.default_rng(0))
        wall = time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    assert trials.count_by_state_unsynced(2) == n_trials
    url2 = f"sqlite:///{workdir}/scaling_{n_workers}_local.db"
    start = time.perf_counter()
    fmin(objective, SPACE, algo=rand.suggest, max_evals=n_trials,
         trials=StoreTrials(url2, exp_key="bench"), n_workers=n_workers,
         show_progressbar=False, rstate=np.random.default_rng(0))
    end_to_end = time.perf_counter() - start
    ideal = n_trials * SLEEP / n_workers
    return {"workers": n_workers, "trials": n_trials, "wall_s": round(wall, 3),
            "ideal_s": round(ideal, 3), "efficiency": round(ideal / wall, 3),
            "n_workers_end_to_end_s": round(end_to_end, 3),
            "n_workers_end_to_end_efficiency": round(ideal / end_to_end, 3)}


def main(argv=None):
    global SLEEP
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sleep", type=float, default=0.2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args(argv)
    SLEEP = args.sleep
    command = "python benchmarks/stores_scaling.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.workers:
            rows.append(run_one(n, args.trials, workdir))
            print(json.dumps(rows[-1]), flush=True)
    out = {"benchmark": "stores_scaling", "command": command.strip(), "sleep_s": SLEEP,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "platform": platform.platform()}, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stores_scaling.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"## SQLite store: parallel scaling ({args.trials} trials, objective sleeps "
             f"{SLEEP:g} s)", "", f"Command: `{command.strip()}`", "",
             f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}. Workers are "
             f"`hpo-worker` processes started and registered before the search is timed; the "
             f"last two columns time `fmin(..., n_workers=N)`, which also starts the workers.", "",
             "| workers | wall (s) | ideal (s) | efficiency | n_workers end-to-end (s) | "
             "end-to-end efficiency |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['wall_s']:.2f} | {r['ideal_s']:.2f} | "
                     f"{r['efficiency']:.3f} | {r['n_workers_end_to_end_s']:.2f} | "
                     f"{r['n_workers_end_to_end_efficiency']:.3f} |")
    (RESULTS / "stores_scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
