"""How fast ``hpo dashboard`` answers over a store of 10,000 trials.

A SQLite store is filled with finished trials of a 10-parameter space (one of them
conditional, each trial with 10 intermediate reports); ``hpo dashboard`` is started on it as
a user would, and each of the page's requests is timed from a client process:

- *first load*: the first request, sent as soon as the server started (it waits for the
  server's first read of the whole experiment);
- *opened after start*: the first request, sent ``--opened-after`` seconds after the server
  started (by then the server read the experiment in the background, as it does for a user who
  opens the page a moment after starting it);
- *live*: a request after one more trial finished, as while a search runs: the server reads the
  change incrementally and recomputes the panel. Each is the median of ``--repeats``.

The server rereads its store at most every 0.5 s, so the benchmark waits that long between
live requests.

Beside it, when ``optuna-dashboard`` is installed (the ``bench`` extra), the same trials are
written to an Optuna study in SQLite and ``optuna-dashboard`` is timed the same way: its page
asks for the whole study (every trial, from which the browser draws the table and the plots)
and then, while a study runs, for the trials after the ones it has; importances are its
fANOVA endpoint.

    python benchmarks/dashboard_load.py --trials 10000 --repeats 7

Writes results/dashboard_load.json and results/dashboard_load.md (``--name`` picks another
name, for trial runs); it does not re-render RESULTS.md (``python benchmarks/render.py`` does).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from common import RESULTS, command_line, versions

EXP = "load"
PANELS = {
    "table, first page (by trial id)": "trials?limit=50",
    "table, first page (by loss)": "trials?limit=50&sort=loss",
    "history plot": "history",
    "slices": "slices",
    "parallel coordinates": "parallel",
    "importances": "importances",
    "intermediate values (last 200 trials)": "intermediate",
}
REFRESH = 0.6  # > the server's 0.5 s reuse interval


def trial_doc(tid, rng):
    """A finished trial of the benchmark space: 8 numbers, a choice and a conditional one."""
    vals = {f"u{i}": [float(rng.uniform(-5, 5))] for i in range(8)}
    choice = int(rng.integers(2))
    vals["c"] = [choice]
    vals["w"] = [float(rng.uniform(0, 1))] if choice else []
    loss = sum(v[0] ** 2 for k, v in vals.items() if k.startswith("u")) + choice
    reports = [[step, loss + 10.0 / step] for step in range(1, 11)]
    return {"tid": tid, "state": 0, "spec": None, "exp_key": EXP, "owner": None,
            "book_time": None, "refresh_time": None, "version": 0,
            "result": {"status": "new"},
            "misc": {"tid": tid, "cmd": None, "workdir": None, "vals": vals,
                     "idxs": {k: ([tid] if v else []) for k, v in vals.items()}}}, \
        {"status": "ok", "loss": loss, "intermediate": reports}


def add_trials(store, pending):
    """Insert and finish ``pending`` ``(doc, result)`` trials through the store's protocol,
    as a driver and workers do."""
    n = len(pending)
    for start in range(0, n, 500):
        store.insert_trials([doc for doc, _ in pending[start:start + 500]])
    results = {doc["tid"]: result for doc, result in pending}
    while (doc := store.reserve("bench-worker", EXP)) is not None:
        store.finish(EXP, doc["tid"], "bench-worker", doc["attempt"], 2, results[doc["tid"]])


def get(port, path):
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}&exp={EXP}"
                                if "?" in path else
                                f"http://127.0.0.1:{port}/api/{path}?exp={EXP}", timeout=120) as r:
        body = r.read()
    return time.perf_counter() - start, len(body), json.loads(body)


def start_server(url):
    proc = subprocess.Popen([sys.executable, "-m", "hpo.cli", "dashboard", url, "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def optuna_trial(vals, result):
    """The same trial as an Optuna ``FrozenTrial`` (w only where it was active)."""
    import optuna

    dists = {f"u{i}": optuna.distributions.FloatDistribution(-5, 5) for i in range(8)}
    dists["c"] = optuna.distributions.CategoricalDistribution([0, 1])
    dists["w"] = optuna.distributions.FloatDistribution(0, 1)
    params = {k: v[0] for k, v in vals.items() if v}
    return optuna.trial.create_trial(
        params=params, distributions={k: dists[k] for k in params}, value=result["loss"],
        intermediate_values={step: loss for step, loss in result["intermediate"]})


def get_url(url):
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        body = r.read()
    return time.perf_counter() - start, len(body), json.loads(body)


def start_optuna_dashboard(storage):
    """``optuna-dashboard`` on a free port, once it answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = Path(sys.executable).parent / "optuna-dashboard"
    proc = subprocess.Popen([str(binary), storage, "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            get_url(f"http://127.0.0.1:{port}/api/meta")
            return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("optuna-dashboard did not start within 60 s") from None
            time.sleep(0.2)


def run_optuna_dashboard(tmp, trials, args):
    """``{request: (first, opened after start, [live...], bytes)}`` for optuna-dashboard."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{Path(tmp) / 'optuna.db'}"
    study = optuna.create_study(storage=storage, study_name="load")
    start = time.perf_counter()
    study.add_trials([optuna_trial(doc["misc"]["vals"], result) for doc, result in trials])
    print(f"optuna: filled {len(trials)} trials in {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(1)
    requests = {"study (every trial: table and plots)": "api/studies/{id}",
                "importances (fANOVA)": "api/studies/{id}/param_importances"}
    out = {}
    for name, path in requests.items():
        path = path.format(id=study._study_id)
        proc, port = start_optuna_dashboard(storage)
        try:
            first, size, answer = get_url(f"http://127.0.0.1:{port}/{path}")
            n = len(answer.get("trials", []))
            live = []
            for _ in range(args.repeats):
                doc, result = trial_doc(0, rng)
                study.add_trial(optuna_trial(doc["misc"]["vals"], result))
                time.sleep(REFRESH)
                after = f"?after={n}" if name.startswith("study") else ""
                seconds, _, answer = get_url(f"http://127.0.0.1:{port}/{path}{after}")
                n += len(answer.get("trials", []))
                live.append(seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        proc, port = start_optuna_dashboard(storage)
        try:
            time.sleep(args.opened_after)
            opened = get_url(f"http://127.0.0.1:{port}/{path}")[0]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        out[name] = (first, opened, live, size)
        print(f"optuna-dashboard {name}: first {first * 1000:.0f} ms, opened after start "
              f"{opened * 1000:.0f} ms, live median {statistics.median(live) * 1000:.0f} ms")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--opened-after", type=float, default=5.0)
    parser.add_argument("--name", default="dashboard_load",
                        help="results/<name>.json and .md (another name for a trial run)")
    args = parser.parse_args()
    from hpo.stores import open_store

    rng = np.random.default_rng(0)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'load.db'}"
        store = open_store(url)
        start = time.perf_counter()
        trials = [trial_doc(tid, rng) for tid in range(args.trials)]
        add_trials(store, trials)
        print(f"filled {args.trials} trials in {time.perf_counter() - start:.1f} s")
        first, opened, live, sizes = {}, {}, {name: [] for name in PANELS}, {}
        for name, path in PANELS.items():
            proc, port = start_server(url)
            try:
                time.sleep(args.opened_after)
                opened[name], _, _ = get(port, path)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                proc.stdout.close()
            proc, port = start_server(url)  # a fresh server per panel: a true first load
            try:
                first[name], sizes[name], answer = get(port, path)
                if name.startswith("table"):
                    assert answer["total"] >= args.trials and len(answer["rows"]) == 50
                next_tid = args.trials + 1000 * (list(PANELS).index(name) + 1)
                for repeat in range(args.repeats):
                    add_trials(store, [trial_doc(next_tid + repeat, rng)])
                    time.sleep(REFRESH)
                    seconds, sizes[name], _ = get(port, path)
                    live[name].append(seconds)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                proc.stdout.close()
            print(f"{name}: first {first[name] * 1000:.0f} ms, opened after start "
                  f"{opened[name] * 1000:.0f} ms, live median "
                  f"{statistics.median(live[name]) * 1000:.0f} ms, {sizes[name] / 1e3:.0f} kB")
        store.close()
        peer = None
        try:
            import optuna_dashboard
        except ImportError:
            print("optuna-dashboard is not installed: only hpo is measured")
        else:
            peer = (optuna_dashboard.__version__, run_optuna_dashboard(tmp, trials, args))
    rows = [f"| {name} | {first[name] * 1000:.0f} | {opened[name] * 1000:.0f} | "
            f"{statistics.median(live[name]) * 1000:.0f} | "
            f"{max(live[name]) * 1000:.0f} | {math.ceil(sizes[name] / 1e3)} |" for name in PANELS]
    markdown = (
        f"## hpo dashboard under load ({args.trials:,} finished trials in SQLite, median of "
        f"{args.repeats})\n\n"
        "Each request is timed from a client process against `hpo dashboard` (standard-library "
        "server). *First load* is the first request, sent as soon as the server started: it "
        "waits for the server's first read of the whole experiment (a one-time cost). *Opened "
        f"after start* is the first request sent {args.opened_after:g} s after the server "
        "started, which read the experiment in the background meanwhile. *Live* is a request "
        "after one more trial finished, which the server reads incrementally -- what the page "
        "asks every second while a search runs. Target: under 1 s for the table's first page "
        "and the history plot.\n\n"
        "| request | first load (ms) | opened after start (ms) | live, median (ms) | "
        "live, max (ms) | answer (kB) |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    # Other work on the machine slows every column, the first load most.
    markdown += (f"\n\nLoad average of the machine ({os.cpu_count()} cores): "
                 f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.")
    if peer is not None:
        version, results = peer
        markdown += (
            f"\n\nThe same trials in an Optuna study (RDB storage, SQLite) served by "
            f"optuna-dashboard {version}, timed the same way. Its page loads every trial in one "
            "request and draws the table and the plots in the browser; while a study runs it "
            "asks for the trials after the ones it has (*live*).\n\n"
            "| request | first load (ms) | opened after start (ms) | live, median (ms) | "
            "live, max (ms) | answer (kB) |\n|---|---|---|---|---|---|\n" + "\n".join(
                f"| {name} | {first_s * 1000:.0f} | {opened_s * 1000:.0f} | "
                f"{statistics.median(live_s) * 1000:.0f} | {max(live_s) * 1000:.0f} | "
                f"{math.ceil(size / 1e3)} |"
                for name, (first_s, opened_s, live_s, size) in results.items()))
    data = {"command": command_line(), "versions": versions(), "trials": args.trials,
            "repeats": args.repeats, "opened_after": args.opened_after, "first_s": first,
            "opened_after_start_s": opened, "live_s": live, "bytes": sizes,
            "optuna_dashboard": None if peer is None else {
                "version": peer[0],
                "results": {name: dict(zip(("first_s", "opened_after_start_s", "live_s", "bytes"),
                                           row)) for name, row in peer[1].items()}}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(data, indent=2))
    header = f"Command: `{data['command']}`\n\nVersions: " + ", ".join(
        f"{k} {v}" for k, v in data["versions"].items()) + "\n\n"
    (RESULTS / f"{args.name}.md").write_text(header + markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
