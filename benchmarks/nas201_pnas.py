"""NAS-Bench-201 (CIFAR-10, CIFAR-100, ImageNet16-120): hpo's PNAS (``nas.pnas``, generic
mode: a progressive prior over the table's cells, no training) beside hpo TPE, random search,
regularized evolution, hpo's NASNet-style REINFORCE controller (``nas.nasnet``) and Optuna TPE.

The progressive prior: a NAS-Bench-201 cell is 6 edges, each one of 5 ops (none, skip,
conv 1x1, conv 3x3, avg pool 3x3). By default (``levels=base``) level 1 holds the 5 uniform
cells (every edge the same op), and a cell of level L differs from its uniform *base* cell in
L - 1 edges; a cell expands by switching one more of its base-op edges to another op (as PNAS
adds a block), so level 7 holds the cells with no base-op edge left and every one of the 15,625
cells is reachable from one base. ``levels=active`` is the first decomposition tried: the
level is the number of non-``none`` edges (24 one-edge cells at level 1, one edge switched on
per level); it left the predictor too little to learn from at the small levels (see the
options table). Features (``features=``): the 6 x 5 one-hot op codes (``onehot``), those
followed by one indicator per pair of edges and pair of ops (``pair``, so a linear model sees
every two-edge interaction), or followed by the path encoding of White et al. (BANANAS, ``path``).
The default options (``DEFAULT_PNAS``) were chosen on the tuning seeds (``--tune``): a GP
ensemble on path features fitted to the log-shifted loss, beam 32.
The loss is ``1 - validation accuracy / 100`` of one of the table's seeds,
drawn per evaluation with the run's rng, as for every optimizer here (``tpe_tabular``); a run
is scored by the seed-mean loss of its best observed cell.

Peer runs (hpo-tpe, random, regularized-evolution, hpo-nasnet, optuna-tpe) are read from the cache of
``benchmarks/nas201.py`` (``benchmarks/results/runs/nas201/``) made with the peers' current code
(the report names it; missing ones stop the script with the command to run); the PNAS runs are cached in ``benchmarks/results/nas201_pnas.runs.jsonl``.
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

import tpe_tabular

N_EDGES, N_OPS = 6, 5
# Edges in NAS-Bench-201's order: (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
# The four input-to-output paths through the cell's nodes, as lists of edges.
PATHS = (((0, 3),), ((0, 1), (1, 3)), ((0, 2), (2, 3)), ((0, 1), (1, 2), (2, 3)))
PAIRS = tuple((i, j) for i in range(N_EDGES) for j in range(i + 1, N_EDGES))
FEATURES = ("onehot", "path", "pair")
LEVELS = ("base", "active")
PEERS = ["hpo-tpe", "random", "regularized-evolution", "hpo-nasnet", "optuna-tpe"]
TASKS = ["nas201_cifar10", "nas201_cifar100", "nas201_imagenet"]
RUN_CACHE = HERE / "results" / "nas201_pnas.runs.jsonl"
DEFAULT_PNAS = "beam=32,predictor=gp,features=path,target=log"
TUNE_SEEDS_FROM = 100  # tuning runs use seeds 100.., never the reported 0..29


# -- the progressive prior ----------------------------------------------------------------------------


def cell_features(ops, kind):
    """The predictor's features of a cell (op indices of the 6 edges), ``kind`` one of FEATURES.

    ``onehot``: the 6 x 5 one-hot op codes. ``path``: those, then the path encoding of White et
    al. (BANANAS): how many input-to-output paths carry each sequence of 1, 2 or 3 non-none
    ops (4 + 16 + 64 counts). ``pair``: the one-hot codes, then one indicator per pair of edges
    and pair of ops (15 x 25), so a linear model sees every two-edge interaction.
    """
    onehot = np.eye(N_OPS)[list(ops)].ravel()
    if kind == "onehot":
        return onehot
    if kind == "pair":
        pairs = np.zeros(len(PAIRS) * N_OPS * N_OPS)
        for k, (i, j) in enumerate(PAIRS):
            pairs[k * N_OPS * N_OPS + ops[i] * N_OPS + ops[j]] = 1.0
        return np.concatenate([onehot, pairs])
    paths = np.zeros(4 + 16 + 64)
    offsets = {1: 0, 2: 4, 3: 20}
    for path in PATHS:
        path_ops = [ops[EDGES.index(edge)] for edge in path]
        if all(path_ops):
            code = 0
            for op in path_ops:
                code = code * 4 + (op - 1)
            paths[offsets[len(path_ops)] + code] += 1
    return np.concatenate([onehot, paths])


class Nas201Cell:
    """A NAS-Bench-201 cell (op indices of the 6 edges, 0 = none) in one of two decompositions.

    ``levels="base"``: the cell descends from the uniform cell of op ``base``; its level is 1 +
    the number of edges whose op differs from ``base``, and a child changes one more edge away
    from it. ``levels="active"``: the level is the number of non-none edges and a child turns
    one none edge into another op (``base`` is None).
    """

    def __init__(self, ops, base, features):
        self.ops = tuple(int(o) for o in ops)
        self.base = None if base is None else int(base)
        self.feature_kind = features

    @property
    def level(self):
        skipped = 0 if self.base is None else self.base
        return sum(o != skipped for o in self.ops) + (self.base is not None)

    @property
    def hash(self):
        return "".join(map(str, self.ops))  # the cell: one cell is one value, whatever its base

    def to_json(self):
        return list(self.ops) if self.base is None else [*self.ops, self.base]

    def expand(self):
        stay = 0 if self.base is None else self.base
        return [Nas201Cell(self.ops[:e] + (op,) + self.ops[e + 1:], self.base, self.feature_kind)
                for e in range(N_EDGES) if self.ops[e] == stay for op in range(N_OPS) if op != stay]

    def features(self):
        return cell_features(self.ops, self.feature_kind)


class Nas201Prior:
    """The progressive prior over NAS-Bench-201 cells (see the module docstring)."""

    def __init__(self, features="onehot", levels="base"):
        if features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
        if levels not in LEVELS:
            raise ValueError(f"levels must be one of {LEVELS}, got {levels!r}")
        self.features, self.levels = features, levels
        # The LSTM predictor reads the one-hot codes as one token per edge.
        self.token_dim = N_OPS if features == "onehot" else None

    def initial_values(self):
        if self.levels == "base":
            return [Nas201Cell((op,) * N_EDGES, op, self.features) for op in range(N_OPS)]
        return [Nas201Cell(tuple(op if i == e else 0 for i in range(N_EDGES)), None, self.features)
                for e in range(N_EDGES) for op in range(1, N_OPS)]

    def sample(self, rng):
        ops = [int(o) for o in rng.integers(N_OPS, size=N_EDGES)]
        if self.levels == "base":
            return [*ops, int(rng.integers(N_OPS))]
        if not any(ops):
            ops[int(rng.integers(N_EDGES))] = 1 + int(rng.integers(N_OPS - 1))
        return ops

    def validate(self, value):
        size = N_EDGES + (self.levels == "base")
        if not (isinstance(value, list) and len(value) == size
                and all(isinstance(o, int) and 0 <= o < N_OPS for o in value)
                and (self.levels == "base" or any(value))):
            raise ValueError(f"a NAS-Bench-201 cell of levels={self.levels!r} is {size} op indices "
                             f"in 0..4{'' if self.levels == 'base' else ', not all 0'}; got {value!r}")

    def decode(self, value):
        self.validate(list(value))
        if self.levels == "base":
            return Nas201Cell(value[:N_EDGES], value[N_EDGES], self.features)
        return Nas201Cell(value, None, self.features)


# -- one PNAS run ------------------------------------------------------------------------------------------


def parse_options(spec):
    """``"beam=8,predictor=ridge,levels=base"`` -> ``((features, levels), options of pnas.suggest)``:
    ``features`` and ``levels`` configure the prior, everything else is pnas's."""
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
    levels = options.pop("levels", "base")
    return (features, levels), options


def code_id():
    """A short id of what a PNAS run runs (pnas and its predictor, the prior, the run itself):
    cached runs of other code are not reused; editing the report keeps them."""
    import inspect

    digest = hashlib.sha1()
    root = HERE.parent / "hpo" / "nas"
    for path in [root / "pnas.py", root / "predictor.py", root / "lstm_regressor.py", root / "progressive.py"]:
        digest.update(path.name.encode() + path.read_bytes())
    for obj in (cell_features, Nas201Cell, Nas201Prior, parse_options, run_pnas, _pool_spearman):
        digest.update(inspect.getsource(obj).encode())
    return "pnas " + digest.hexdigest()[:12]


def run_pnas(task_name, spec, seed, n_evals):
    from tabular_tasks import TASKS as ALL_TASKS

    from hpo import Trials, fmin
    from hpo.nas import pnas
    from hpo.spaces import custom

    task = ALL_TASKS[task_name]
    prior_options, options = parse_options(spec)
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
    fmin(objective, {"cell": custom("cell", Nas201Prior(*prior_options))}, algo=suggest, max_evals=n_evals,
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


def _run_job(job):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # beam larger than the 5 initial values: clamped, known
        return run_pnas(*job)


def pnas_records(tasks, spec, seeds, n_evals, jobs=1):
    """The PNAS runs of ``spec`` (cached, or run now with ``jobs`` processes)."""
    runs, code = load_runs(), code_id()
    todo = [(t, spec, s, n_evals) for t in tasks for s in seeds
            if (t, "hpo-pnas:" + spec, s, n_evals, code) not in runs]
    if todo:
        import multiprocessing

        start = time.perf_counter()
        with multiprocessing.Pool(jobs) as pool, open(RUN_CACHE, "a") as cache:
            for i, record in enumerate(pool.imap_unordered(_run_job, todo), start=1):
                cache.write(json.dumps(record) + "\n")
                cache.flush()
                runs[(record["task"], record["optimizer"], record["seed"], n_evals, code)] = record
                if i % 10 == 0 or i == len(todo):
                    print(f"{spec}: {i}/{len(todo)} runs, {time.perf_counter() - start:.0f} s", flush=True)
    return {(t, "hpo-pnas", s): runs[(t, "hpo-pnas:" + spec, s, n_evals, code)] for t in tasks for s in seeds}


def peer_records(tasks, seeds, n_evals):
    """Cached peer runs of benchmarks/nas201.py made with the peers' current code
    (``tpe_tabular.code_id``); exits naming the command to run when some are missing."""
    codes = {opt: tpe_tabular.code_id(opt) for opt in PEERS}
    out = {}
    for task in tasks:
        path = tpe_tabular.cache_path(task)
        for line in path.read_text().splitlines() if path.exists() else []:
            r = json.loads(line)
            if r["optimizer"] in PEERS and r["seed"] in seeds and r["evals"] == n_evals \
                    and r["task_version"] == tpe_tabular.TASK_VERSION and r["code"] == codes[r["optimizer"]]:
                out[(task, r["optimizer"], r["seed"])] = r
    missing = {opt: sum((t, opt, s) not in out for t in tasks for s in seeds) for opt in PEERS}
    missing = {opt: n for opt, n in missing.items() if n}
    if missing:
        raise SystemExit("missing peer runs for the current code: " + ", ".join(
            f"{opt} ({codes[opt]}): {n} of {len(tasks) * len(seeds)}" for opt, n in missing.items())
            + f"; run python benchmarks/nas201.py --seeds {len(seeds)} --no-write first")
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
    "levels=active,beam=8,predictor=ridge,features=path,k1=12",  # the first decomposition
    "levels=active,beam=24,predictor=ridge,features=onehot",
    "beam=8,predictor=ridge,features=onehot",
    "beam=24,predictor=ridge,features=onehot",
    "beam=24,predictor=ridge,features=onehot,target=log",
    "beam=24,predictor=ridge,features=path,l2=1,target=log",
    "beam=16,predictor=ridge,features=pair,l2=1,target=log",
    "beam=24,predictor=ridge,features=pair,l2=1,target=log",
    "beam=32,predictor=ridge,features=pair,l2=1,target=log",
    "beam=24,predictor=ridge,features=pair,l2=3,target=log",
    "beam=24,predictor=ridge,features=pair,l2=1,target=log,beta=1.0",
    "beam=24,predictor=mlp,features=pair,target=log",
    "beam=24,predictor=gp,features=pair,target=log",
    "beam=24,predictor=gp,features=path",
    "beam=16,predictor=gp,features=path,target=log",
    "beam=24,predictor=gp,features=path,target=log",
    "beam=32,predictor=gp,features=path,target=log",
]


def tuning_rows(n_evals):
    """Per option set cached on the tuning seeds (all of TASKS): mean normalized regret at 100
    and ``n_evals`` evaluations, and the lowest per-level mean Spearman of the candidate pool
    on CIFAR-10 (first pass through the levels)."""
    from tabular_tasks import TASKS as ALL_TASKS

    code, by_spec = code_id(), {}
    for (task, opt, seed, evals, c), r in load_runs().items():
        if c == code and evals == n_evals and seed >= TUNE_SEEDS_FROM:
            by_spec.setdefault(opt.partition(":")[2], {}).setdefault(task, {})[seed] = r
    rows = []
    for spec, by_task in by_spec.items():
        seeds = sorted(set.intersection(*(set(v) for v in by_task.values())))
        if set(by_task) != set(TASKS) or not seeds:
            continue
        regret = np.mean([[ALL_TASKS[t].normalized_regret(tpe_tabular.trace_at(by_task[t][s], [100, n_evals]))
                           for s in seeds] for t in TASKS], axis=(0, 1))
        levels = {}
        for s in seeds:
            for e in by_task["nas201_cifar10"][s]["pool_spearman"]:
                if e["round"] == 0 and not math.isnan(e["spearman"]):
                    levels.setdefault(e["level"], []).append(e["spearman"])
        worst = min(((np.mean(v), lv) for lv, v in levels.items()), default=(math.nan, None))
        rows.append({"spec": spec, "seeds": len(seeds), "regret_100": float(regret[0]),
                     f"regret_{n_evals}": float(regret[1]), "worst_pool_rho": float(worst[0]),
                     "worst_level": worst[1]})
    return sorted(rows, key=lambda r: r["regret_100"] + r[f"regret_{n_evals}"])


def render_tuning(rows, n_evals):
    lines = [f"**Options tried** on tuning seeds {TUNE_SEEDS_FROM}.. (not the reported seeds), all three "
             f"tasks: normalized regret at 100 / {n_evals} evaluations (mean over tasks and seeds), and "
             "the lowest per-level mean Spearman of the ranked candidate pool on CIFAR-10 (first pass):\n",
             f"| options | seeds | regret @100 | regret @{n_evals} | lowest pool ρ (level) |", "|---|---|---|---|---|"]
    lines += [f"| `{r['spec']}` | {r['seeds']} | {r['regret_100']:.3f} | {r[f'regret_{n_evals}']:.3f} | "
              f"{r['worst_pool_rho']:.2f} ({r['worst_level']}) |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pnas", default=DEFAULT_PNAS, help="pnas options, key=value,... (features= for the prior)")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--evals", type=int, default=200)
    parser.add_argument("--tune", nargs="*", metavar="OPTIONS",
                        help=f"run option sets (default: TUNE_SPECS) on every task, seeds {TUNE_SEEDS_FROM}..")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the missing runs")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.evals < 100 or args.jobs < 1:
        parser.error(f"--seeds and --jobs must be >= 1 and --evals >= 100, got {args.seeds}, {args.jobs} "
                     f"and {args.evals}")
    prune_runs()
    if args.tune is not None:
        seeds = list(range(TUNE_SEEDS_FROM, TUNE_SEEDS_FROM + args.seeds))
        for spec in args.tune or TUNE_SPECS:
            pnas_records(TASKS, spec, seeds, args.evals, args.jobs)
        print(render_tuning(tuning_rows(args.evals), args.evals))
        return

    seeds = list(range(args.seeds))
    records, peer_codes = peer_records(TASKS, seeds, args.evals)
    records.update(pnas_records(TASKS, args.pnas, seeds, args.evals, args.jobs))
    optimizers = ["hpo-pnas", *PEERS]
    summary = tpe_tabular.summarize(records, TASKS, optimizers, seeds, args.evals)
    checkpoints = [100, args.evals]
    acc = accuracy_regret(records, TASKS, optimizers, seeds, checkpoints)
    spear = spearman_table(records, "nas201_cifar10", seeds)
    tune = tuning_rows(args.evals)
    md = [f"{args.evals} evaluations per run, seeds 0..{seeds[-1]}, 3 tasks. hpo-pnas options: "
          f"`{args.pnas}` ({code_id()}); peers from the cache of benchmarks/nas201.py, code: "
          + "; ".join(f"{o}: {c}" for o, c in peer_codes.items()) + ". "
          f"Prior (features, levels) `{parse_options(args.pnas)[0]}`: with levels `base`, level 1 "
          "holds the 5 uniform cells and a child switches one more edge away from its base op "
          "(7 levels; see the script's docstring). "
          "The optimizer sees one seed's accuracy per evaluation; a run is scored by the seed-mean "
          "accuracy of its best observed cell.\n",
          render_accuracy(acc, TASKS, optimizers), "",
          tpe_tabular.render(summary, TASKS, optimizers, args.evals, "(of 15,625 cells) "), "",
          render_spearman(spear, "nas201_cifar10"), ""]
    if tune:
        md.append(render_tuning(tune, args.evals))
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
