"""TPE on tabular benchmarks: HPOLib FCNet (4 data sets) and HPOBench NN (8), side by side with
hpo's anneal and random search, Hyperopt TPE, Optuna TPE/GP and SMAC.

Every (task, optimizer, seed, evaluations) run is cached as one JSON line in
``benchmarks/results/runs/<fcnet|hpobench|nas201>/<task>.jsonl``: the incumbent trace (the
true, seed-averaged loss of the configuration with the best *observed* loss so far, stored as
``[evaluation, loss]`` where it changes), the number of distinct configurations proposed and
the wall time. A run records the code it ran (for hpo, a hash of ``hpo/algos`` and
``hpo/spaces``; for the others their version), so editing hpo's TPE re-runs hpo's optimizers
and nothing else: a TPE variant is measured against the stored peer runs in seconds.

Reported, over the seeds that every compared optimizer holds: normalized regret
``(loss - f*) / (median - f*)`` (f*: the table's best mean loss; median: the median over the
whole grid, a typical random configuration) at 25/50/100/200 evaluations, the average rank
after the last evaluation (per task and seed, ties shared), per-task wins (best mean regret),
distinct configurations per run and wall time per run.

    python benchmarks/tpe_tabular.py                                  # 30 seeds x 200 evaluations
    python benchmarks/tpe_tabular.py --optimizers optuna-gp smac --seeds 3 --no-write
    python benchmarks/tpe_tabular.py --optimizers hpo-tpe:gamma=0.2 hyperopt-tpe optuna-tpe \\
        --seeds 10 --no-write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

RUNS = Path(__file__).parent / "results" / "runs"
CHECKPOINTS = (25, 50, 100, 200)
OPTIMIZERS = ["hpo-tpe", "hpo-anneal", "hpo-rand", "hyperopt-tpe", "optuna-tpe"]
TASK_VERSION = 1  # bump when the tasks' losses or noise change: every cached run is then stale


# -- what code a run ran ---------------------------------------------------------------------------


def code_id(spec):
    """A short id of the code behind ``spec``: cached runs with another id are not reused."""
    name = spec.partition(":")[0]
    if name.startswith("hpo-"):
        import hpo

        root = Path(hpo.__file__).parent
        digest = hashlib.sha1()
        sources = [*root.glob("algos/*.py"), *root.glob("spaces/*.py")]
        if name == "hpo-nasnet":
            sources += [root / "nas" / "nasnet.py", root / "nas" / "choice_controller.py",
                        root / "nas" / "oneshot" / "controller.py"]
        for path in sorted(sources):
            digest.update(path.name.encode() + path.read_bytes())
        return f"hpo {hpo.__version__} {digest.hexdigest()[:12]}"
    if name in ("random", "regularized-evolution"):
        return "numpy " + hashlib.sha1((Path(__file__).parent / "regularized_evolution.py").read_bytes()).hexdigest()[:12]
    package = name.partition("-")[0]
    code = f"{package} {metadata.version(package)}"
    return code + f" torch {metadata.version('torch')}" if name == "optuna-gp" else code


# -- one run ----------------------------------------------------------------------------------------


class TabularRecorder:
    """The objective seen by the optimizer: a seed of the table drawn per evaluation; it keeps
    the true (seed-mean) and observed losses and the cells proposed."""

    def __init__(self, task, seed):
        self.task = task
        self.rng = np.random.default_rng([seed, 12345])
        self.observed, self.true, self.cells = [], [], []

    def __call__(self, flat):
        observed, true, cell = self.task.observe(flat, self.rng)
        self.observed.append(observed)
        self.true.append(true)
        self.cells.append(cell)
        return observed

    def incumbent_changes(self):
        """``[[k, true loss], ...]``: the incumbent after evaluation k, listed where it changes."""
        out, best = [], math.inf
        for k, (obs, true) in enumerate(zip(self.observed, self.true), start=1):
            if obs < best:
                best = obs
                if not out or out[-1][1] != true:
                    out.append([k, true])
        return out


def run_one(job):
    """Run one (task, optimizer spec, seed, evaluations) and return its cache record."""
    import peers
    from tabular_tasks import TASKS

    task_name, spec, seed, n_evals, code = job
    task = TASKS[task_name]
    rec = TabularRecorder(task, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peers' own chatter (empty-slice means, fallbacks)
        peers.run(spec, task, rec, seed, n_evals)
    wall = time.perf_counter() - start
    if len(rec.true) != n_evals:
        raise RuntimeError(f"{spec} evaluated {len(rec.true)} of {n_evals} configurations on {task_name}")
    return {"task": task_name, "optimizer": spec, "seed": seed, "evals": n_evals, "code": code,
            "task_version": TASK_VERSION, "incumbent": rec.incumbent_changes(),
            "distinct": len(set(rec.cells)), "wall_s": round(wall, 4)}


def trace_at(record, checkpoints):
    """True loss of the incumbent after each of ``checkpoints`` evaluations (NaN past the run)."""
    changes = record["incumbent"]
    ks = np.array([k for k, _ in changes])
    out = []
    for c in checkpoints:
        i = np.searchsorted(ks, c, side="right") - 1
        out.append(math.nan if c > record["evals"] or i < 0 else changes[i][1])
    return out


# -- the cache --------------------------------------------------------------------------------------


def cache_path(task_name):
    from tabular_tasks import TASKS

    return RUNS / TASKS[task_name].benchmark / f"{task_name}.jsonl"


def load_cache(task_names, n_evals, codes):
    """``{(task, spec, seed): record}`` of the cached runs with ``n_evals`` and the current code."""
    out = {}
    for task_name in task_names:
        path = cache_path(task_name)
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if (r["evals"] == n_evals and r.get("task_version") == TASK_VERSION
                    and codes.get(r["optimizer"]) == r["code"]):
                out[(r["task"], r["optimizer"], r["seed"])] = r
    return out


def append_cache(record):
    path = cache_path(record["task"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def run_missing(tasks, optimizers, seeds, n_evals, jobs, codes, run=True):
    """Load the cache, run what is missing (unless ``run`` is false), return all records."""
    cached = load_cache(tasks, n_evals, codes)
    # Seed by seed: a run stopped early still leaves whole seeds (every task) for the report.
    todo = [(t, o, s, n_evals, codes[o]) for s in seeds for t in tasks for o in optimizers
            if (t, o, s) not in cached]
    if not run or not todo:
        return cached
    print(f"{len(todo)} runs to do ({len(cached)} cached)", flush=True)
    start = last = time.perf_counter()
    pool = multiprocessing.Pool(jobs) if jobs > 1 else None
    results = pool.imap_unordered(run_one, todo) if pool else map(run_one, todo)
    try:
        for i, record in enumerate(results, start=1):
            append_cache(record)  # one writer: this process
            cached[(record["task"], record["optimizer"], record["seed"])] = record
            if i % 50 == 0 or i == len(todo) or time.perf_counter() - last > 60:
                last = time.perf_counter()
                print(f"{i}/{len(todo)} runs, {last - start:.0f} s", flush=True)
    finally:
        if pool:
            pool.close()
            pool.join()
    return cached


# -- the report -------------------------------------------------------------------------------------


def summarize(records, tasks, optimizers, seeds, n_evals):
    """Regrets, ranks, wins, distinct counts and wall times over the seeds all optimizers hold."""
    from tabular_tasks import TASKS

    held = {o: sorted({s for (t, oo, s) in records if oo == o and t in tasks and s in seeds
                       and all((tt, o, s) in records for tt in tasks)}) for o in optimizers}
    common = sorted(set.intersection(*(set(v) for v in held.values()))) if optimizers else []
    checkpoints = [c for c in CHECKPOINTS if c <= n_evals] or [n_evals]
    if checkpoints[-1] != n_evals:
        checkpoints.append(n_evals)
    regret = {}  # (task, opt) -> array (seeds, checkpoints)
    for t in tasks:
        for o in optimizers:
            losses = np.array([trace_at(records[(t, o, s)], checkpoints) for s in common]).reshape(len(common), -1)
            regret[(t, o)] = TASKS[t].normalized_regret(losses)
    ranks, wins = {o: [] for o in optimizers}, {o: 0 for o in optimizers}
    for t in tasks:
        if not common:
            break
        final = np.array([regret[(t, o)][:, -1] for o in optimizers])  # (opts, seeds)
        r = np.apply_along_axis(rankdata, 0, final)
        for i, o in enumerate(optimizers):
            ranks[o].append(float(r[i].mean()))
        means = final.mean(axis=1)
        for i, o in enumerate(optimizers):
            wins[o] += bool(np.isclose(means[i], means.min()))
    distinct = {o: [records[(t, o, s)]["distinct"] for t in tasks for s in common] for o in optimizers}
    wall = {o: [records[(t, o, s)]["wall_s"] for t in tasks for s in common] for o in optimizers}
    return {"held": held, "common": common, "checkpoints": checkpoints, "regret": regret,
            "ranks": ranks, "wins": wins, "distinct": distinct, "wall": wall}


def _row(label, cells, best=None):
    return f"| {label} | " + " | ".join(f"**{c}**" if best is not None and i in best else c
                                        for i, c in enumerate(cells)) + " |"


def render(summary, tasks, optimizers, n_evals, distinct_note=""):
    """The Markdown report of :func:`summarize`."""
    s, lines = summary, []
    cols = " | ".join(optimizers)
    sep = "|---" * (len(optimizers) + 1) + "|"
    lines.append("Seeds held (runs with the current code on every task): " + ", ".join(
        f"{o} {len(s['held'][o])}" for o in optimizers) + f". Compared on the {len(s['common'])} seeds "
        "all of them hold.\n")
    if not s["common"]:
        return "\n".join(lines)
    lines.append(f"**Normalized regret**, mean over {len(tasks)} tasks (± std over seeds of the task "
                 "mean; 0 = the table's best, 1 = the median configuration):\n")
    lines += [f"| evaluations | {cols} |", sep]
    for c, k in enumerate(s["checkpoints"]):
        per_seed = {o: np.mean([s["regret"][(t, o)][:, c] for t in tasks], axis=0) for o in optimizers}
        means = [per_seed[o].mean() for o in optimizers]
        best = {i for i, m in enumerate(means) if np.isclose(m, min(means))}
        lines.append(_row(k, [f"{per_seed[o].mean():.3f} ± {per_seed[o].std():.3f}" for o in optimizers], best))
    lines.append("")
    ranks = [np.mean(s["ranks"][o]) for o in optimizers]
    wins = [s["wins"][o] for o in optimizers]
    lines += [f"**Average rank** after {n_evals} evaluations (1 = best, ties shared), **tasks won** "
              "(best mean regret, ties count for each) and **per run**: distinct configurations "
              f"among the {n_evals} evaluated {distinct_note}and wall time:\n", f"| | {cols} |", sep]
    lines.append(_row("average rank", [f"{v:.2f}" for v in ranks], {i for i, v in enumerate(ranks) if v == min(ranks)}))
    lines.append(_row("tasks won", [str(v) for v in wins], {i for i, v in enumerate(wins) if v == max(wins)}))
    lines.append(_row("distinct configurations", [
        f"{np.mean(s['distinct'][o]):.1f} ({min(s['distinct'][o])}–{max(s['distinct'][o])})" for o in optimizers]))
    lines.append(_row("wall time per run (s)", [f"{np.mean(s['wall'][o]):.2f}" for o in optimizers]))
    lines.append("")
    lines += [f"**Normalized regret per task** after {s['checkpoints'][-2] if len(s['checkpoints']) > 1 else n_evals} / "
              f"{n_evals} evaluations (mean over seeds; ± std at {n_evals}):\n", f"| task | {cols} |", sep]
    for t in tasks:
        finals = [s["regret"][(t, o)][:, -1].mean() for o in optimizers]
        best = {i for i, m in enumerate(finals) if np.isclose(m, min(finals))}
        cells = []
        for o in optimizers:
            r = s["regret"][(t, o)]
            mid = f"{r[:, -2].mean():.3f} / " if r.shape[1] > 1 else ""
            cells.append(f"{mid}{r[:, -1].mean():.3f} ± {r[:, -1].std():.3f}")
        lines.append(_row(t, cells, best))
    return "\n".join(lines)


def parse_args(description, default_tasks, default_optimizers, default_name, argv=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--optimizers", nargs="+", default=default_optimizers,
                        help="specs name[:key=value,...], see benchmarks/peers.py")
    parser.add_argument("--tasks", nargs="+", default=default_tasks, help="task or group names (tabular_tasks.py)")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed, first-seed+1, ...")
    parser.add_argument("--evals", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the missing runs")
    parser.add_argument("--cached-only", action="store_true", help="run nothing; report the cached runs")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    parser.add_argument("--name", default=default_name, help="results/<name>.json and .md")
    args = parser.parse_args(argv)
    for flag in ("seeds", "evals", "jobs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0, got {args.first_seed}")
    return args


def main(argv=None, description=__doc__.split("\n\n")[0], default_tasks=("tabular",),
         default_optimizers=OPTIMIZERS, default_name="tpe_tabular", distinct_note="", intro=""):
    import peers
    from tabular_tasks import expand

    args = parse_args(description, list(default_tasks), list(default_optimizers), default_name, argv)
    tasks = expand(args.tasks)
    for spec in args.optimizers:
        peers.parse_spec(spec)  # a clear error before any run
    optimizers = list(dict.fromkeys(args.optimizers))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    codes = {o: code_id(o) for o in optimizers}
    records = run_missing(tasks, optimizers, seeds, args.evals, args.jobs, codes, run=not args.cached_only)
    summary = summarize(records, tasks, optimizers, seeds, args.evals)
    md = render(summary, tasks, optimizers, args.evals, distinct_note)
    print(md)
    if args.no_write:
        return summary
    from common import write_results

    data = {"evals": args.evals, "seeds": seeds, "common_seeds": summary["common"], "tasks": tasks,
            "optimizers": optimizers, "codes": codes, "held": summary["held"],
            "regret": {f"{t}|{o}": v.mean(axis=0).tolist() for (t, o), v in summary["regret"].items()},
            "checkpoints": summary["checkpoints"],
            "average_rank": {o: float(np.mean(v)) if v else None for o, v in summary["ranks"].items()},
            "wins": summary["wins"],
            "distinct_mean": {o: float(np.mean(v)) if v else None for o, v in summary["distinct"].items()},
            "wall_s_mean": {o: float(np.mean(v)) if v else None for o, v in summary["wall"].items()}}
    head = (f"{args.evals} evaluations per run, seeds {seeds[0]}..{seeds[-1]}, {len(tasks)} tasks; runs cached "
            "in benchmarks/results/runs/. " + intro + "The optimizer sees one of the table's seeds per "
            "evaluation (drawn with the run's rng); a run is scored by the seed-mean loss of its best "
            "observed configuration. Code per optimizer (cached runs of other code are not used): "
            + "; ".join(f"{o}: {c}" for o, c in codes.items()) + ".\n\n")
    write_results(args.name, data, head + md)
    return summary


if __name__ == "__main__":
    main()
