"""``hpo run FILE.py``: search a template file from the command line.

FILE defines ``data()`` and a model function with placeholders::

    hpo run model.py --max-evals 20 --algo tpe --seed 0
    hpo run model.py --max-evals 200 --store sqlite:///model.db --workers 4

It shows a progress bar, then prints the best loss, the best values and where the best model
was saved (``--save``, by default ``<FILE stem>.best.keras`` beside the file).
"""

from __future__ import annotations

import importlib
import os
import sys

ALGOS = ("tpe", "rand", "grid", "anneal")


def add_arguments(parser):
    parser.add_argument("file", metavar="FILE.py", help="template file with data() and a model")
    parser.add_argument("--max-evals", type=int, required=True, help="number of trials")
    parser.add_argument("--algo", choices=ALGOS, default="tpe", help="search algorithm (tpe)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the search")
    parser.add_argument("--store", default=None,
                        help="job store URL (sqlite:///exp.db, mongo://host:port/db/jobs): trials "
                             "are shared with hpo-worker processes")
    parser.add_argument("--exp-key", default=None,
                        help="experiment key in the store (default: the file's stem)")
    parser.add_argument("--workers", type=int, default=None,
                        help="with --store: start this many local workers for the search")
    parser.add_argument("--model", default=None,
                        help="name of the model function (default: the one with placeholders)")
    parser.add_argument("--save", default=None,
                        help="where to save the best model (default: <FILE stem>.best.keras)")


def _algo(name):
    try:
        module = importlib.import_module(f"hpo.algos.{name}")
    except ImportError as e:
        raise SystemExit(f"hpo run: --algo {name} is not available in this installation ({e})")
    return module.suggest


def _store_trials(url, exp_key):
    try:
        from hpo.stores import StoreTrials
    except ImportError as e:
        raise SystemExit(
            f"hpo run: --store {url!r} needs hpo.stores, which cannot be imported here ({e})")
    return StoreTrials(url, exp_key=exp_key)


def run(args):
    import numpy as np

    from ..base import Trials
    from . import compile_template, minimize
    from .errors import TemplateError

    if args.max_evals < 1:
        raise SystemExit(f"hpo run: --max-evals must be >= 1, got {args.max_evals}")
    # TensorFlow's start-up notices would bury the progress bar; a user's setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stem = os.path.splitext(os.path.abspath(args.file))[0]
    save = args.save or f"{stem}.best.keras"
    try:
        template = compile_template(args.file, name=args.model)
    except (TemplateError, SyntaxError) as e:
        print(f"hpo run: {e}", file=sys.stderr)
        return 2
    if template.data_function is None and any(
            p.default is p.empty for p in template.model_parameters()):
        print(f"hpo run: {args.file} defines no data() function for the parameters of "
              f"{template.name}()", file=sys.stderr)
        return 2
    trials, model_dir = Trials(), None
    if args.store:
        trials = _store_trials(args.store, args.exp_key or os.path.basename(stem))
        # Workers save their best model here; the driver picks the best trial's file.
        model_dir = f"{stem}.models"
    fmin_kwargs = {"n_workers": args.workers} if args.workers else {}
    rstate = np.random.default_rng(args.seed) if args.seed is not None else None
    best_run, best_model = minimize(template, algo=_algo(args.algo), max_evals=args.max_evals,
                                    trials=trials, rstate=rstate, model_dir=model_dir,
                                    **fmin_kwargs)
    print(f"best loss {trials.best_trial['result']['loss']:.6g} after {len(trials)} trials")
    print(f"best values ({template.name} in {args.file}):")
    for label, value in best_run.items():
        print(f"  {label} = {value!r}   (line {template.labels[label]})")
    if best_model is None:
        print("no model saved: the model function returned no 'model' for the best trial")
        return 0
    best_model.save(save)
    print(f"best model saved to {save}")
    return 0
