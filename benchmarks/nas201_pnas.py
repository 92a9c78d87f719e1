"""NAS-Bench-201 (CIFAR-10, CIFAR-100, ImageNet16-120): hpo's PNAS (``nas.pnas``, generic
mode: a progressive prior over the table's cells, no training) beside hpo TPE, random search,
regularized evolution and Optuna TPE.

The progressive prior: a NAS-Bench-201 cell is 6 edges, each one of 5 ops (none, skip,
conv 1x1, conv 3x3, avg pool 3x3). A cell's *level* is its number of non-``none`` edges, so
level 1 holds the 24 one-edge cells, a cell expands by turning one ``none`` edge into one of
the 4 other ops (exactly like PNAS adds a block), and level 6 (4,096 cells with every edge
active) is the maximum; every one of the 15,624 cells but the empty one is reachable. The
features are the 6 x 5 one-hot op codes (``--features onehot``), optionally followed by the
op counts and whether the output node is reachable from the input through active edges
(``onehot+``), or followed by the path encoding of White et al. (BANANAS): how many active
input-to-output paths carry each sequence of ops (``path``). The loss is ``1 - validation accuracy / 100`` of one of the table's seeds,
drawn per evaluation with the run's rng, as for every optimizer here (``tpe_tabular``); a run
is scored by the seed-mean loss of its best observed cell.

Peer runs (hpo-tpe, random, regularized-evolution, optuna-tpe) are read from the cache of
``benchmarks/nas201.py`` (``benchmarks/results/runs/nas201/``), whatever code id they hold (the
report names it); the PNAS runs are cached in ``benchmarks/results/nas201_pnas.runs.jsonl``.
The predictor's Spearman correlation is reported twice per level on CIFAR-10: as pnas records
it (the level's evaluated cells, before the predictor is trained on them) and over the level's
whole ranked candidate pool (every unevaluated expansion the predictor ranked), scored with the
table's true losses.

    python benchmarks/nas201_pnas.py                                  # 30 seeds x 200 evaluations
    python benchmarks/nas201_pnas.py --tune --seeds 10                # options tried, tuning seeds
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only contend

import numpy as np
from scipy.stats import rankdata, spearmanr

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import tpe_tabular  # noqa: E402

N_EDGES, N_OPS = 6, 5
# Edges in NAS-Bench-201's order: (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
# The four input-to-output paths through the cell's nodes, as lists of edges.
PATHS = (((0, 3),), ((0, 1), (1, 3)), ((0, 2), (2, 3)), ((0, 1), (1, 2), (2, 3)))
PEERS = ["hpo-tpe", "random", "regularized-evolution", "optuna-tpe"]
TASKS = ["nas201_cifar10", "nas201_cifar100", "nas201_imagenet"]
RUN_CACHE = HERE / "results" / "nas201_pnas.runs.jsonl"
DEFAULT_PNAS = "beam=8,predictor=mlp,features=onehot"
TUNE_SEEDS_FROM = 100  # tuning runs use seeds 100.., never the reported 0..29


# -- the progressive prior ----------------------------------------------------------------------------


class Nas201Cell:
    """A NAS-Bench-201 cell: op indices of the 6 edges (0 = none)."""

    def __init__(self, ops, features="onehot"):
        self.ops = tuple(int(o) for o in ops)
        self.feature_kind = features

    @property
    def level(self):
        return sum(o != 0 for o in self.ops)

    @property
    def hash(self):
        return "".join(map(str, self.ops))

    def to_json(self):
        return list(self.ops)

    def expand(self):
        return [Nas201Cell(self.ops[:e] + (op,) + self.ops[e + 1:], self.feature_kind)
                for e in range(N_EDGES) if self.ops[e] == 0 for op in range(1, N_OPS)]

    def connected(self):
        reach = {0}
        for a, b in EDGES:  # edges are in topological order
            if a in reach and self.ops[EDGES.index((a, b))] != 0:
                reach.add(b)
        return 3 in reach

    def features(self):
        onehot = np.eye(N_OPS)[list(self.ops)].ravel()
        if self.feature_kind == "onehot":
            return onehot
        if self.feature_kind == "path":
            return np.concatenate([onehot, self.path_counts()])
        counts = np.bincount(self.ops, minlength=N_OPS).astype(float)
        return np.concatenate([onehot, counts, [float(self.connected())]])

    def path_counts(self):
        """How many active input-to-output paths carry each sequence of ops (the path encoding
        of White et al., BANANAS): 4 + 16 + 64 sequences of 1, 2 and 3 non-none ops."""
        out = np.zeros(4 + 16 + 64)
        offsets = {1: 0, 2: 4, 3: 20}
        for path in PATHS:
            ops = [self.ops[EDGES.index(edge)] for edge in path]
            if all(ops):
                code = 0
                for op in ops:
                    code = code * 4 + (op - 1)
                out[offsets[len(ops)] + code] += 1
        return out


class Nas201Prior:
    """The progressive prior over NAS-Bench-201 cells (see the module docstring)."""

    def __init__(self, features="onehot"):
        if features not in ("onehot", "onehot+", "path"):
            raise ValueError(f"features must be 'onehot', 'onehot+' or 'path', got {features!r}")
        self.features = features

    def initial_values(self):
        return [Nas201Cell(tuple(op if i == e else 0 for i in range(N_EDGES)), self.features)
                for e in range(N_EDGES) for op in range(1, N_OPS)]

    def sample(self, rng):
        ops = rng.integers(N_OPS, size=N_EDGES)
        if not ops.any():
            ops[rng.integers(N_EDGES)] = 1 + rng.integers(N_OPS - 1)
        return [int(o) for o in ops]

    def validate(self, value):
        if not (isinstance(value, list) and len(value) == N_EDGES and all(
                isinstance(o, int) and 0 <= o < N_OPS for o in value) and any(value)):
            raise ValueError(f"a NAS-Bench-201 cell is 6 op indices in 0..4, not all 0; got {value!r}")

    def decode(self, value):
        self.validate(list(value))
        return Nas201Cell(value, self.features)


# -- one PNAS run ------------------------------------------------------------------------------------------


def parse_options(spec):
    """``"beam=8,predictor=mlp"`` -> options of pnas.suggest, plus ``features`` for the prior."""
    options = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        options[key] = None if value == "None" else value
    features = options.pop("features", "onehot")
    return features, options


def code_id():
    """A short id of what a PNAS run runs (pnas and its predictor, the prior, the run itself):
    cached runs of other code are not reused; editing the report keeps them."""
    import inspect

    digest = hashlib.sha1()
    root = HERE.parent / "hpo" / "nas"
    for path in [root / "pnas.py", root / "predictor.py", root / "progressive.py"]:
        digest.update(path.name.encode() + path.read_bytes())
    for obj in (Nas201Cell, Nas201Prior, parse_options, run_pnas, _pool_spearman):
        digest.update(inspect.getsource(obj).encode())
    return "pnas " + digest.hexdigest()[:12]


def run_pnas(task_name, spec, seed, n_evals):
    from hpo import Trials, fmin
    from hpo.nas import pnas
    from hpo.spaces import custom
    from tabular_tasks import TASKS as ALL_TASKS

    task = ALL_TASKS[task_name]
    features, options = parse_options(spec)
    recorder = tpe_tabular.TabularRecorder(task, seed)
    pools = []  # per level: Spearman of the predictor over the whole ranked candidate pool
    key = pnas.STATE_PREFIX + "cell"
    algo = functools.partial(pnas.suggest, **options)

    def suggest(new_ids, domain, trials, seed_):
        before = trials.attachments.get(key)
        docs = algo(new_ids, domain, trials, seed_)
        after = trials.attachments.get(key)
        if after is not None and after != before:
            pools.append(_pool_spearman(after, task))
        return docs

    def objective(params):
        return recorder({f"edge{i}": op for i, op in enumerate(params["cell"].ops)})

    start = time.perf_counter()
    trials = Trials()
    fmin(objective, {"cell": custom("cell", Nas201Prior(features))}, algo=suggest, max_evals=n_evals,
         trials=trials, rstate=np.random.default_rng(seed), show_progressbar=False)
    wall = time.perf_counter() - start
    own = json.loads(trials.attachments[pnas.spearman_key("cell")].decode())
    return {"task": task_name, "optimizer": "hpo-pnas:" + spec, "seed": seed, "evals": n_evals,
            "code": code_id(), "task_version": tpe_tabular.TASK_VERSION,
            "incumbent": recorder.incumbent_changes(), "distinct": len(set(recorder.cells)),
            "wall_s": round(wall, 4), "spearman": own, "pool_spearman": [p for p in pools if p]}


def _pool_spearman(state_bytes, task):
    import io

    with np.load(io.BytesIO(state_bytes), allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes().decode())
    queue = [e for e in meta["queue"] if e["mean"] is not None]
    if len(queue) < 2:
        return None
    true = [task.losses[tuple(int(c) for c in e["hash"])] for e in queue]
    mean = [e["mean"] for e in queue]
    rho = spearmanr(mean, true).statistic if np.ptp(mean) > 0 else math.nan
    return {"level": meta["level"], "round": meta["round"], "spearman": float(rho), "n": len(queue)}


# -- cache and report -----------------------------------------------------------------------------------


def load_runs():
    runs = {}
    if RUN_CACHE.exists():
        for line in RUN_CACHE.read_text().splitlines():
            r = json.loads(line)
            runs[(r["task"], r["optimizer"], r["seed"], r["evals"], r["code"])] = r
    return runs


def prune_runs():
    """Drop cached PNAS runs of other code: they are never reused."""
    if RUN_CACHE.exists():
        code = code_id()
        lines = [line for line in RUN_CACHE.read_text().splitlines() if json.loads(line)["code"] == code]
        RUN_CACHE.write_text("".join(line + "\n" for line in lines))


def pnas_records(tasks, spec, seeds, n_evals):
    runs, code = load_runs(), code_id()
    out = {}
    for task in tasks:
        for seed in seeds:
            key = (task, "hpo-pnas:" + spec, seed, n_evals, code)
            if key not in runs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    runs[key] = run_pnas(task, spec, seed, n_evals)
                with open(RUN_CACHE, "a") as f:
                    f.write(json.dumps(runs[key]) + "\n")
                print(f"{task} seed {seed}: {runs[key]['wall_s']:.1f} s", flush=True)
            out[(task, "hpo-pnas", seed)] = runs[key]
    return out


def peer_records(tasks, seeds, n_evals):
    """Cached peer runs of benchmarks/nas201.py: per optimizer, the newest code id that holds
    every (task, seed), so that no optimizer mixes runs of different code."""
    by_code, order = {}, {}
    for task in tasks:
        path = tpe_tabular.cache_path(task)
        for line in path.read_text().splitlines() if path.exists() else []:
            r = json.loads(line)
            if r["optimizer"] in PEERS and r["seed"] in seeds and r["evals"] == n_evals \
                    and r["task_version"] == tpe_tabular.TASK_VERSION:
                key = (r["optimizer"], r["code"])
                by_code.setdefault(key, {})[(task, r["optimizer"], r["seed"])] = r
                order[key] = len(order)  # the last line read is the newest
    out, codes = {}, {}
    for opt in PEERS:
        full = [k for k in by_code if k[0] == opt and len(by_code[k]) == len(tasks) * len(seeds)]
        if not full:
            raise SystemExit(f"the cache holds no complete set of {opt} runs ({len(tasks)} tasks x "
                             f"{len(seeds)} seeds); run python benchmarks/nas201.py --seeds {len(seeds)} first")
        newest = max(full, key=order.get)
        out.update(by_code[newest])
        codes[opt] = newest[1]
    return out, codes


def accuracy_regret(records, tasks, optimizers, seeds, checkpoints):
    """Mean regret of the best validation accuracy (percentage points) and average rank."""
    from tabular_tasks import TASKS as ALL_TASKS

    table = {}
    for c in checkpoints:
        per_task = {}
        for t in tasks:
            f_star = ALL_TASKS[t].f_star
            per_task[t] = np.array([[100 * (tpe_tabular.trace_at(records[(t, o, s)], [c])[0] - f_star)
                                     for s in seeds] for o in optimizers])  # (opts, seeds)
        ranks = np.mean([np.apply_along_axis(rankdata, 0, per_task[t]).mean(axis=1) for t in tasks], axis=0)
        table[c] = {"regret": {t: per_task[t].mean(axis=1).tolist() for t in tasks},
                    "rank": ranks.tolist()}
    return table


def render_accuracy(table, tasks, optimizers):
    cols = " | ".join(optimizers)
    sep = "|---" * (len(optimizers) + 1) + "|"
    lines = ["**Regret of the best validation accuracy** (percentage points below the table's best "
             "cell, mean over seeds) and **average rank** (over tasks of the mean rank over seeds; "
             "1 = best, ties shared):\n", f"| evaluations | task | {cols} |", "|---" + sep]
    for c, row in table.items():
        for t in tasks:
            vals = row["regret"][t]
            lines.append(f"| {c} | {t} | " + " | ".join(
                f"**{v:.2f}**" if np.isclose(v, min(vals)) else f"{v:.2f}" for v in vals) + " |")
        ranks = row["rank"]
        lines.append(f"| {c} | average rank | " + " | ".join(
            f"**{v:.2f}**" if np.isclose(v, min(ranks)) else f"{v:.2f}" for v in ranks) + " |")
    return "\n".join(lines)


def spearman_table(records, task, seeds):
    """Mean (± std) Spearman per (level, round) over seeds: pnas's own record and the pool's."""
    rows = {}
    for s in seeds:
        r = records[(task, "hpo-pnas", s)]
        for kind in ("spearman", "pool_spearman"):
            for e in r[kind]:
                if e["spearman"] is not None and not math.isnan(e["spearman"]):
                    rows.setdefault((e["level"], e["round"]), {}).setdefault(kind, []).append(
                        (e["spearman"], e["n"]))
    out = []
    for (level, rnd), kinds in sorted(rows.items()):
        entry = {"level": level, "round": rnd}
        for kind, vals in kinds.items():
            rho = np.array([v for v, _ in vals])
            entry[kind] = {"mean": float(rho.mean()), "std": float(rho.std()), "runs": len(vals),
                           "n_mean": float(np.mean([n for _, n in vals]))}
        out.append(entry)
    return out


def render_spearman(rows, task):
    lines = [f"**Predictor Spearman correlation per level on {task}** (mean ± std over runs). "
             "*Evaluated*: pnas's own record, the level's evaluated cells (the top-ranked ones) "
             "before the predictor is trained on them. *Pool*: the whole ranked candidate pool of "
             "the level, against the table's true losses. Round > 0: later rounds at the maximum "
             "level.\n", "| level | round | evaluated ρ | cells | pool ρ | candidates |", "|---|---|---|---|---|---|"]
    for r in rows[:14]:
        ev, pool = r.get("spearman"), r.get("pool_spearman")
        lines.append(f"| {r['level']} | {r['round']} | "
                     + (f"{ev['mean']:.2f} ± {ev['std']:.2f} | {ev['n_mean']:.0f}" if ev else "– | –") + " | "
                     + (f"{pool['mean']:.2f} ± {pool['std']:.2f} | {pool['n_mean']:.0f}" if pool else "– | –")
                     + " |")
    return "\n".join(lines)


# -- tuning and main ---------------------------------------------------------------------------------------

TUNE_SPECS = [
    "beam=8,predictor=ridge,features=path",
    "beam=8,predictor=ridge,features=onehot",
    "beam=8,predictor=ridge,features=onehot+",
    "beam=4,predictor=ridge,features=path",
    "beam=16,predictor=ridge,features=path",
    "beam=8,predictor=ridge,features=path,k1=12",
    "beam=8,predictor=ridge,features=path,beta=1.0",
    "beam=8,predictor=ridge,features=path,l2=0.1",
    "beam=8,predictor=mlp,features=path",
    "beam=8,predictor=mlp,features=onehot",
    "beam=8,predictor=ridge,features=path,round_parents=all",
    "beam=8,predictor=ridge,features=path,round_parents=32",
    "beam=8,predictor=mlp,features=path,round_parents=all",
]


def tuning_rows(n_evals):
    """Mean accuracy regret at 100 and n_evals of every option set cached on the tuning seeds."""
    from tabular_tasks import TASKS as ALL_TASKS

    code, by_spec = code_id(), {}
    for (task, opt, seed, evals, c), r in load_runs().items():
        if c == code and evals == n_evals and seed >= TUNE_SEEDS_FROM and task == "nas201_cifar10":
            by_spec.setdefault(opt.partition(":")[2], []).append(r)
    f_star = ALL_TASKS["nas201_cifar10"].f_star
    rows = []
    for spec, runs in by_spec.items():
        at = np.array([tpe_tabular.trace_at(r, [100, n_evals]) for r in runs]) - f_star
        rows.append({"spec": spec, "seeds": len(runs), "regret_100": float(100 * at[:, 0].mean()),
                     f"regret_{n_evals}": float(100 * at[:, 1].mean())})
    return sorted(rows, key=lambda r: r[f"regret_{n_evals}"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pnas", default=DEFAULT_PNAS, help="pnas options, key=value,... (features= for the prior)")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--evals", type=int, default=200)
    parser.add_argument("--tune", action="store_true",
                        help=f"run the option sets of TUNE_SPECS on CIFAR-10, seeds {TUNE_SEEDS_FROM}..")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.evals < 100:
        parser.error(f"--seeds must be >= 1 and --evals >= 100, got {args.seeds} and {args.evals}")
    prune_runs()
    if args.tune:
        seeds = list(range(TUNE_SEEDS_FROM, TUNE_SEEDS_FROM + args.seeds))
        for spec in TUNE_SPECS:
            pnas_records(["nas201_cifar10"], spec, seeds, args.evals)
        for row in tuning_rows(args.evals):
            print(row)
        return

    seeds = list(range(args.seeds))
    records, peer_codes = peer_records(TASKS, seeds, args.evals)
    records.update(pnas_records(TASKS, args.pnas, seeds, args.evals))
    optimizers = ["hpo-pnas", *PEERS]
    summary = tpe_tabular.summarize(records, TASKS, optimizers, seeds, args.evals)
    checkpoints = [100, args.evals]
    acc = accuracy_regret(records, TASKS, optimizers, seeds, checkpoints)
    spear = spearman_table(records, "nas201_cifar10", seeds)
    tune = tuning_rows(args.evals)
    md = [f"{args.evals} evaluations per run, seeds 0..{seeds[-1]}, 3 tasks. hpo-pnas options: "
          f"`{args.pnas}` ({code_id()}); peers from the cache of benchmarks/nas201.py, code: "
          + "; ".join(f"{o}: {c}" for o, c in peer_codes.items()) + ". "
          "Level = number of non-none edges (24 one-edge cells at level 1, one edge switched on per "
          f"level, 6 levels); features `{parse_options(args.pnas)[0]}` (see the script's docstring). "
          "The optimizer sees one seed's accuracy per evaluation; a run is scored by the seed-mean "
          "accuracy of its best observed cell.\n",
          render_accuracy(acc, TASKS, optimizers), "",
          tpe_tabular.render(summary, TASKS, optimizers, args.evals, "(of 15,625 cells) "), "",
          render_spearman(spear, "nas201_cifar10"), ""]
    if tune:
        md += [f"**Options tried** on CIFAR-10, tuning seeds {TUNE_SEEDS_FROM}.. (not the reported seeds): "
               f"accuracy regret at 100 / {args.evals} evaluations, mean over seeds:\n",
               "| options | seeds | regret @100 | regret @" + str(args.evals) + " |", "|---|---|---|---|"]
        md += [f"| `{r['spec']}` | {r['seeds']} | {r['regret_100']:.2f} | {r[f'regret_{args.evals}']:.2f} |"
               for r in tune]
    text = "\n".join(md)
    print(text)
    if args.no_write:
        return
    from common import write_results

    data = {"evals": args.evals, "seeds": seeds, "tasks": TASKS, "optimizers": optimizers,
            "pnas_options": args.pnas, "pnas_code": code_id(), "peer_codes": peer_codes,
            "accuracy_regret": {str(c): v for c, v in acc.items()},
            "normalized_regret": {f"{t}|{o}": v.mean(axis=0).tolist() for (t, o), v in summary["regret"].items()},
            "checkpoints": summary["checkpoints"],
            "average_rank_normalized": {o: float(np.mean(v)) for o, v in summary["ranks"].items()},
            "distinct_mean": {o: float(np.mean(v)) for o, v in summary["distinct"].items()},
            "spearman_cifar10": spear, "tuning": tune}
    write_results("nas201_pnas", data, text)


if __name__ == "__main__":
    main()
