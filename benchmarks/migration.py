"""Hyperopt and Hyperas programs run unchanged, then with only their imports renamed to hpo.

Each program in ``benchmarks/migration_programs/`` is a small Hyperopt 0.3 (or Hyperas)
program that checks what it relies on with ``assert`` and prints ``BEST_LOSS <value>``. It
runs twice, each time in a fresh interpreter:

* *original*: the file as it is, under Hyperopt / Hyperas;
* *hpo*: the file with ``hyperas`` replaced by ``hpo.template`` and ``hyperopt`` by ``hpo``
  (whole words, the rename the README documents), with ``hyperopt`` and ``hyperas`` made
  unimportable so that nothing of them is used by accident.

The table says whether each run finished (and the last line of its error when not), the best
loss each printed and the wall time of each. Both use the same seeds, but hpo's algorithms
are not Hyperopt's, so the best losses are comparable, not equal.

Run in an environment holding hpo, hyperopt 0.3, hyperas, scikit-learn and keras::

    python benchmarks/migration.py
    python benchmarks/migration.py --programs plain_tpe warm_start --timeout 300
    python benchmarks/migration.py --hpo-commit HEAD   # hpo as committed, not the working tree
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import tarfile
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402

PROGRAMS = Path(__file__).parent / "migration_programs"

# Runs the hpo variant with Hyperopt and Hyperas unimportable (a None entry in sys.modules
# makes `import` raise ImportError), so the run proves the program needs neither.
HPO_RUNNER = ("import runpy, sys\n"
              "for name in ('hyperopt', 'hyperas'):\n"
              "    sys.modules[name] = None\n"
              "sys.argv = [sys.argv[1]]\n"
              "runpy.run_path(sys.argv[0], run_name='__main__')\n")


REPO = Path(__file__).resolve().parent.parent


def export_hpo(commit, dest):
    """Write the ``hpo`` package as of git ``commit`` under ``dest``; returns the full hash.

    Lets a run measure a commit while the working tree changes under it.
    """
    full = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          capture_output=True, text=True, check=False)
    if full.returncode != 0:
        raise SystemExit(f"--hpo-commit: {commit!r} is not a commit of {REPO}: "
                         f"{full.stderr.strip()}")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", full.stdout.strip(), "hpo"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return full.stdout.strip()


def with_python_path(first):
    """The environment with ``first`` (None: nothing) at the front of PYTHONPATH."""
    env = dict(os.environ)
    if first is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(first), env.get("PYTHONPATH")) if p)
    return env


def rename_imports(source):
    """The program with Hyperas' and Hyperopt's module names replaced by hpo's.

    >>> rename_imports("from hyperas import optim\\nimport hyperopt.tpe\\nhyperopt.tpe.suggest")
    'from hpo.template import optim\\nimport hpo.tpe\\nhpo.tpe.suggest'
    >>> rename_imports("from hyperas.distributions import choice")
    'from hpo.template.distributions import choice'
    """
    source = re.sub(r"\bhyperas\b", "hpo.template", source)
    return re.sub(r"\bhyperopt\b", "hpo", source)


def last_error_line(stderr):
    """The line that names the error (the last line of a traceback), or the last line."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", line):
            return line.strip()
    return lines[-1].strip() if lines else "no output"


def run_program(path, variant, python, workdir, timeout, env=None):
    """Run one program variant in a fresh interpreter; returns its record."""
    if variant == "hpo":
        cmd = [python, "-c", HPO_RUNNER, str(path)]
    else:
        cmd = [python, str(path)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False, env=env)
    except subprocess.TimeoutExpired:
        return {"runs": False, "error": f"timed out after {timeout} s", "best_loss": None,
                "wall_s": time.perf_counter() - start}
    wall = time.perf_counter() - start
    losses = re.findall(r"^BEST_LOSS (\S+)$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not losses:
        error = (last_error_line(proc.stderr) if proc.returncode != 0
                 else "printed no BEST_LOSS line")
        return {"runs": False, "error": error, "best_loss": None, "wall_s": wall}
    printed = [line for line in proc.stdout.splitlines() if not line.startswith("BEST_LOSS ")]
    return {"runs": True, "error": None, "best_loss": float(losses[-1]), "wall_s": wall,
            "printed": printed[-5:]}


def cell(record):
    if record["runs"]:
        return "yes"
    return "no: " + record["error"].replace("|", "\\|")[:160]


def loss_cell(record):
    return "—" if record["best_loss"] is None else f"{record['best_loss']:.4g}"


def markdown(rows):
    lines = ["| program | runs under Hyperopt/Hyperas | runs under hpo (imports renamed) | "
             "best loss, original | best loss, hpo | wall s, original | wall s, hpo |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        o, h = row["original"], row["hpo"]
        lines.append(f"| `{row['program']}` | {cell(o)} | {cell(h)} | {loss_cell(o)} | "
                     f"{loss_cell(h)} | {o['wall_s']:.1f} | {h['wall_s']:.1f} |")
    n = len(rows)
    ok_hpo = sum(r["hpo"]["runs"] for r in rows)
    ok_orig = sum(r["original"]["runs"] for r in rows)
    lines += ["", f"{ok_orig}/{n} programs run under Hyperopt/Hyperas, {ok_hpo}/{n} under hpo "
              "with only the imports renamed (`hyperas` → `hpo.template`, `hyperopt` → `hpo`). "
              "Each program checks its own behaviour with `assert`; a run counts only if it "
              "finished and printed its best loss. Same seeds on both sides, different "
              "algorithms: best losses are comparable, not equal (the Hyperas program's also varies "
              "between runs: Keras' initial weights are not seeded). Wall time includes "
              "interpreter start and imports (TensorFlow for the Hyperas program)."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", nargs="*", default=None,
                        help="program names (default: all in migration_programs/)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs the programs (default: this one)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed per run (default 600)")
    parser.add_argument("--hpo-commit", default=None,
                        help="run hpo as of this git commit (default: the hpo --python imports)")
    args = parser.parse_args(argv)
    available = sorted(p.stem for p in PROGRAMS.glob("*.py"))
    names = args.programs or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"--programs: unknown {unknown}, choose from {available}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be > 0, got {args.timeout}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hpo-migration-") as tmp:
        commit = None
        hpo_env = None
        if args.hpo_commit is not None:
            commit = export_hpo(args.hpo_commit, Path(tmp) / "hpo-src")
            hpo_env = with_python_path(Path(tmp) / "hpo-src")
        for name in names:
            source = (PROGRAMS / f"{name}.py").read_text()
            row = {"program": name}
            for variant, text in (("original", source), ("hpo", rename_imports(source))):
                workdir = Path(tmp) / variant / name
                workdir.mkdir(parents=True)
                path = workdir / f"{name}.py"
                path.write_text(text)
                row[variant] = run_program(path, variant, args.python, workdir, args.timeout,
                                           env=hpo_env if variant == "hpo" else None)
                print(name, variant, json.dumps(row[variant]), flush=True)
            rows.append(row)
    where = (f"hpo as of commit {commit}" if commit else
             "hpo as installed for the interpreter (the working tree when installed editable)")
    write_results("migration", {"hpo_commit": commit, "rows": rows},
                  f"Programs in `benchmarks/migration_programs/`; {where}.\n\n" + markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
