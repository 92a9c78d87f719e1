"""``hpo ls``, ``hpo show``, ``hpo export``, ``hpo best-model``: a search from the shell.

    hpo ls sqlite:///exp.db                          # experiments, trials by state, best loss
    hpo show sqlite:///exp.db --exp-key exp1         # the best trials and their parameters
    hpo export sqlite:///exp.db --exp-key exp1 --format csv > trials.csv
    hpo best-model sqlite:///exp.db --exp-key nas1 best.keras

URL is a store URL or a ``trials_save_file``; ``--exp-key`` may be left out when the store
holds one experiment. Errors (an unreachable store, an unknown key) name what was given and
exit with status 1.

>>> import os, tempfile
>>> from hpo import fmin, hp, rand
>>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
...          trials_save_file=path, show_progressbar=False)
>>> from hpo.cli import main
>>> main(["ls", path])  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
exp_key       new  running  done  error  cancelled  best_loss  best_tid
(no exp_key)    0        0     3      0          0  ...
0
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import types

from ..base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
)
from ..exceptions import HpoError
from .source import open_source
from .table import FIXED_COLUMNS, TrialTable

STATE_COLUMNS = (("new", JOB_STATE_NEW), ("running", JOB_STATE_RUNNING), ("done", JOB_STATE_DONE),
                 ("error", JOB_STATE_ERROR), ("cancelled", JOB_STATE_CANCEL))


def _add_url(parser, exp_key=True):
    parser.add_argument("url", metavar="URL",
                        help="sqlite:///exp.db, mongo://host:port/db/jobs, or a trials_save_file")
    if exp_key:
        parser.add_argument("--exp-key", default=None,
                            help="the experiment (may be left out when the store holds one)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for a database server (default 5)")


def _guarded(name, body):
    """Run ``body(args)``; errors of the source, the search or the arguments print one line
    and exit 1 (the store errors and :class:`~hpo.dashboard.source.SourceError` are HpoErrors)."""
    def run(args):
        try:
            return body(args) or 0
        except (HpoError, ValueError, OSError, ImportError) as e:
            print(f"hpo {name}: error: {e}", file=sys.stderr)
            return 1
    return run


def _open(args):
    """``(source, exp_key)`` with the experiment read; the caller closes the source."""
    source = open_source(args.url, connect_timeout=args.timeout)
    try:
        exp_key = getattr(args, "exp_key", None)
        exp_key = source.default_experiment() if exp_key is None else source.check(exp_key)
        source.update(exp_key)
    except BaseException:
        source.close()
        raise
    return source, exp_key


def _with_source(args, body):
    source, exp_key = _open(args)
    with source:
        return body(args, source, exp_key)


def _key_name(exp_key):
    return "(no exp_key)" if exp_key is None else exp_key


def _print_table(header, rows, out):
    """Columns aligned: text to the left, everything else to the right."""
    cells = [list(map(str, header))] + [["" if v is None else _fmt(v) for v in row] for row in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    left = [isinstance(rows[0][j], str) if rows else True for j in range(len(header))]
    for r in cells:
        line = "  ".join(c.ljust(w) if lj else c.rjust(w) for c, w, lj in zip(r, widths, left))
        print(line.rstrip(), file=out)


def _fmt(value):
    return f"{value:.6g}" if isinstance(value, float) else str(value)


# -- hpo ls ------------------------------------------------------------------------------------

def _ls(args):
    with open_source(args.url, connect_timeout=args.timeout) as source:
        rows = []
        for exp_key in source.experiments():
            source.update(exp_key)
            trials = source.trials(exp_key)
            counts = _state_counts(source, trials, exp_key)
            h = trials.history
            best = (h.best_loss, h.best_tid) if h.best_tid is not None else (None, None)
            rows.append([_key_name(exp_key), *(counts[s] for _, s in STATE_COLUMNS), *best])
    header = ["exp_key", *(name for name, _ in STATE_COLUMNS), "best_loss", "best_tid"]
    if not rows:
        print(f"{source.url}: no experiments")
        return 0
    _print_table(header, rows, sys.stdout)
    return 0


def _state_counts(source, trials, exp_key):
    store = getattr(source, "store", None)
    if store is not None:
        return store.count_by_state(exp_key)  # cancelled trials are not in `trials`
    counts = {state: 0 for _, state in STATE_COLUMNS}
    for doc in trials.all_trials:
        counts[doc["state"]] = counts.get(doc["state"], 0) + 1
    return counts


ls = types.SimpleNamespace(add_arguments=lambda p: _add_url(p, exp_key=False),
                           run=_guarded("ls", _ls))


# -- hpo show ----------------------------------------------------------------------------------

def _show_arguments(parser):
    _add_url(parser)
    parser.add_argument("--top", type=int, default=5, help="how many of the best trials (default 5)")


def _show(args):
    if args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    return _with_source(args, _show_body)


def _show_body(args, source, exp_key):
    trials = source.trials(exp_key)
    table = TrialTable(short=True)
    table.update(trials.all_trials)
    counts = table.query(limit=1)["counts"]
    print(f"{source.url}  exp_key {_key_name(exp_key)}: {len(table)} trials "
          f"({', '.join(f'{k} {n}' for k, n in sorted(counts.items())) or 'none'})")
    best = table.query(status="ok", sort="loss", limit=args.top)["rows"]
    if not best:
        print("no trial finished with status ok yet")
        return 0
    labels = table.labels
    _print_table(["tid", "loss", *labels],
                 [[r["tid"], r["loss"], *(r["params"].get(label) for label in labels)] for r in best],
                 sys.stdout)
    return 0


show = types.SimpleNamespace(add_arguments=_show_arguments, run=_guarded("show", _show))


# -- hpo export --------------------------------------------------------------------------------

def _export_arguments(parser):
    _add_url(parser)
    parser.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv (one row per trial, parameters as columns) or json (a list)")
    parser.add_argument("--output", "-o", default=None, help="file to write (default: stdout)")


def export_rows(trials):
    """``(columns, rows)``: one row per trial (cancelled ones left out), parameters as columns
    after the fixed ones, ``None`` where a parameter was inactive.

    >>> from hpo import Trials
    >>> export_rows(Trials())
    (['tid', 'status', 'loss', 'duration', 'owner', 'error'], [])
    """
    table = TrialTable()
    table.update(trials.all_trials)
    columns = [*FIXED_COLUMNS, *table.labels]
    rows = [[*(r[c] for c in FIXED_COLUMNS), *(r["params"].get(label) for label in table.labels)]
            for r in table.rows()]
    return columns, rows


def _write_export(out, fmt, columns, rows):
    if fmt == "json":
        json.dump([dict(zip(columns, row)) for row in rows], out, indent=1, default=str)
        out.write("\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])


def _export(args):
    return _with_source(args, _export_body)


def _export_body(args, source, exp_key):
    columns, rows = export_rows(source.trials(exp_key))
    if args.output:
        with open(args.output, "w", newline="") as out:
            _write_export(out, args.format, columns, rows)
    else:
        _write_export(sys.stdout, args.format, columns, rows)
    return 0


export = types.SimpleNamespace(add_arguments=_export_arguments, run=_guarded("export", _export))


# -- hpo best-model ----------------------------------------------------------------------------

def _best_model_arguments(parser):
    _add_url(parser)
    parser.add_argument("path", metavar="PATH", help="where to save the model (a .keras file)")
    parser.add_argument("--label", default=None,
                        help="the architecture parameter, when the space has several")


def _best_model(args):
    if not args.path.endswith(".keras"):
        raise ValueError(f"PATH must end with .keras, got {args.path!r}")
    return _with_source(args, _best_model_body)


def _best_model_body(args, source, exp_key):
    trials = source.trials(exp_key)
    best = trials.best_trial
    model_path = (best.get("result") or {}).get("model_path")
    if "nas_weights" in trials.trial_attachments(best):
        from ..nas.export import export_best  # imports Keras

        export_best(trials, args.path, label=args.label)
    elif model_path:
        # A template objective with model_dir saved the model itself and recorded where.
        if not os.path.isfile(model_path):
            raise FileNotFoundError(f"trial {best['tid']} recorded model_path {model_path!r}, "
                                    f"which does not exist on this machine")
        shutil.copyfile(model_path, args.path)
    else:
        raise ValueError(f"exp_key {exp_key!r}: the best trial ({best['tid']}) has neither stored "
                         f"weights (NAS objectives store them) nor a model_path (template "
                         f"objectives record one with model_dir=)")
    print(f"trial {best['tid']} (loss {best['result']['loss']:.6g}) saved to {args.path}")
    return 0


best_model = types.SimpleNamespace(add_arguments=_best_model_arguments,
                                   run=_guarded("best-model", _best_model))
