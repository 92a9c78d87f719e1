"""Parallel scaling on the SQLite store: an objective sleeping 0.2 s, 200 trials, 1/2/4/8 workers.

Efficiency = ideal time / measured time, where ideal = trials * 0.2 s / workers. Two rows per
worker count, side by side:

- *pre-started*: ``hpo-worker`` processes started and registered before ``fmin`` is timed;
- *n_workers*: ``fmin(..., n_workers=N)`` timed end to end, so counting the start of its
  local workers (one preloaded fork server, then one fork per worker).

"first trial" is the time from the start of the timing to the first reservation. With
``--repeat R`` each search runs R times and the median wall time is reported with the range:
on a shared two-core machine single runs vary.

    python benchmarks/stores_scaling.py [--trials 200] [--sleep 0.2] [--workers 1 2 4 8] [--repeat 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
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
SPACE = {"x": hp.uniform("x", -5, 5)}


def objective(params):
    time.sleep(SLEEP)
    return (params["x"] - 1.0) ** 2


def start_workers(url, n):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE), *sys.path]))
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


def timed_search(trials, n_trials, **kwargs):
    """``(wall seconds, seconds to the first reservation)`` of one search."""
    started_at = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    start = time.perf_counter()
    fmin(objective, SPACE, algo=rand.suggest, max_evals=n_trials, trials=trials,
         show_progressbar=False, rstate=np.random.default_rng(0), **kwargs)
    wall = time.perf_counter() - start
    assert trials.count_by_state_unsynced(2) == n_trials
    first = min(d["book_time"] for d in trials)
    return wall, (first - started_at).total_seconds()


def prestarted_search(url, n_workers, n_trials):
    trials = StoreTrials(url, exp_key="bench")
    procs = start_workers(url, n_workers)
    try:
        wait_registered(trials, n_workers)
        return timed_search(trials, n_trials)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def run_one(n_workers, n_trials, workdir, repeat):
    ideal = n_trials * SLEEP / n_workers
    runs = {"pre-started hpo-worker": [], f"fmin(n_workers={n_workers})": []}
    for i in range(repeat):
        runs["pre-started hpo-worker"].append(prestarted_search(
            f"sqlite:///{workdir}/scaling_{n_workers}_{i}.db", n_workers, n_trials))
        trials = StoreTrials(f"sqlite:///{workdir}/scaling_{n_workers}_{i}_local.db",
                             exp_key="bench")
        runs[f"fmin(n_workers={n_workers})"].append(
            timed_search(trials, n_trials, n_workers=n_workers))
    rows = []
    for how, results in runs.items():
        walls = [wall for wall, _ in results]
        wall = statistics.median(walls)
        rows.append({"workers": n_workers, "how": how, "trials": n_trials,
                     "wall_s": round(wall, 3), "wall_min_s": round(min(walls), 3),
                     "wall_max_s": round(max(walls), 3), "runs": len(walls),
                     "ideal_s": round(ideal, 3), "efficiency": round(ideal / wall, 3),
                     "first_trial_s": round(statistics.median(f for _, f in results), 3)})
    return rows


def main(argv=None):
    global SLEEP
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sleep", type=float, default=0.2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeat", type=int, default=1, help="runs per search (median kept)")
    args = parser.parse_args(argv)
    SLEEP = args.sleep
    command = "python benchmarks/stores_scaling.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for n in args.workers:
            for row in run_one(n, args.trials, workdir, args.repeat):
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = {"benchmark": "stores_scaling", "command": command.strip(), "sleep_s": SLEEP,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "platform": platform.platform()}, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stores_scaling.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"## SQLite store: parallel scaling ({args.trials} trials, objective sleeps "
             f"{SLEEP:g} s)", "", f"Command: `{command.strip()}`", "",
             f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}. "
             f"*pre-started*: `hpo-worker` processes started and registered before the search "
             f"is timed. *fmin(n_workers=N)*: timed end to end, counting the start of the local "
             f"workers (forked from one preloaded server). Efficiency = ideal / wall, ideal = "
             f"trials x sleep / workers; wall is the median of {args.repeat} run(s), with their "
             f"range; first trial = seconds from the start of the timing to the first "
             f"reservation.", "",
             "| workers | how | wall (s) | range (s) | ideal (s) | efficiency | first trial (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['how']} | {r['wall_s']:.2f} | "
                     f"{r['wall_min_s']:.2f}-{r['wall_max_s']:.2f} | {r['ideal_s']:.2f} | "
                     f"{r['efficiency']:.3f} | {r['first_trial_s']:.2f} |")
    (RESULTS / "stores_scaling.md").write_text("\n".join(lines) + "\n")
    from render import render

    render()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
