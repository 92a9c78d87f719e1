"""What ``trials_save_file`` costs: 1000 trivial trials with and without it, hpo and Hyperopt.

hpo appends each queued and each finished trial to a journal (constant cost per trial);
Hyperopt pickles the whole Trials after every trial. Each cell is the median of `--repeats`
runs, the variants interleaved so that machine noise hits them alike.

    python benchmarks/trials_file_cost.py --evals 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
from pathlib import Path

import numpy as np

from common import hpo_mixed_space, hyperopt_mixed_space, mixed_objective, timed, write_results


def run_hpo(n, path):
    from hpo import Trials, fmin, rand

    fmin(mixed_objective, hpo_mixed_space(), algo=rand.suggest, max_evals=n, trials=Trials(),
         rstate=np.random.default_rng(0), show_progressbar=False,
         trials_save_file=path or "")


def run_hyperopt(n, path):
    from hyperopt import Trials, fmin, rand

    fmin(mixed_objective, hyperopt_mixed_space(), algo=rand.suggest, max_evals=n,
         trials=Trials(), rstate=np.random.default_rng(0), show_progressbar=False,
         trials_save_file=path or "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("hpo").setLevel(logging.WARNING)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    runners = {"hpo": run_hpo}
    try:
        import hyperopt  # noqa: F401

        runners["hyperopt"] = run_hyperopt
    except ImportError:
        print("hyperopt is not installed: only hpo is measured")
    times = {(name, saved): [] for name in runners for saved in (False, True)}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name, runner in runners.items():
                for saved in (False, True):
                    path = str(Path(tmp) / f"{name}-{repeat}.save") if saved else None
                    seconds, _ = timed(lambda: runner(args.evals, path))
                    times[(name, saved)].append(seconds)
                    print(f"{name} saved={saved}: {seconds:.2f} s")
    rows, data = [], {}
    for name in runners:
        plain = statistics.median(times[(name, False)])
        saved = statistics.median(times[(name, True)])
        data[name] = {"without": times[(name, False)], "with": times[(name, True)]}
        rows.append(f"| {name} | {plain:.2f} | {saved:.2f} | {saved / plain:.2f} |")
    markdown = (
        f"## trials_save_file cost ({args.evals} trivial trials, `rand`, median of "
        f"{args.repeats})\n\n"
        "| library | without (s) | with trials_save_file (s) | ratio |\n|---|---|---|---|\n"
        + "\n".join(rows)
    )
    write_results("trials_file_cost", {"evals": args.evals, "times": data}, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
