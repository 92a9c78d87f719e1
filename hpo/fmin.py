"""``fmin``: validate the options, prepare the trials, choose the executor, run the one loop.

>>> from hpo import fmin, hp, rand
>>> import numpy as np
>>> best = fmin(lambda x: (x - 3) ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
...             max_evals=50, rstate=np.random.default_rng(0), show_progressbar=False)
>>> round(best["x"])
3
"""

from __future__ import annotations

import logging

from . import progress
from .base import JOB_STATE_NEW, Domain, Trials, new_misc
from .exceptions import AllTrialsFailed, InvalidFminArgument
from .executors import Executor, executor_for
from .loop import SearchLoop
from .options import default_algo, default_rstate, validate_fmin_options
from .spaces import space_eval
from .trials_file import TrialsJournal

logger = logging.getLogger(__name__)

def generate_trials_to_calculate(points, exp_key=None):
    """A :class:`Trials` holding one NEW trial per ``{label: value}`` point (choices as indices).

    ``fmin`` evaluates NEW trials before it asks the algorithm for more.

    >>> trials = generate_trials_to_calculate([{"x": 0.0}, {"x": 1.0}])
    >>> [t["misc"]["vals"]["x"] for t in trials]
    [[0.0], [1.0]]
    """
    trials = Trials(exp_key=exp_key)
    tids = trials.new_trial_ids(len(points))
    miscs = [new_misc(tid, {label: [value] for label, value in point.items()})
             for tid, point in zip(tids, points)]
    docs = trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"}] * len(tids), miscs)
    for doc in docs:
        doc["result"] = {"status": "new"}
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def _complete_new_trial(domain, doc):
    """Validate a NEW trial given by the user and fill ``[]`` for its inactive labels."""
    vals = domain.compiled.point_to_vals(doc["misc"]["vals"], what=f"trial {doc['tid']}")
    doc["misc"]["vals"] = vals
    doc["misc"]["idxs"] = {label: ([doc["tid"]] if v else []) for label, v in vals.items()}


def _prepare_in_memory(trials, trials_save_file, domain):
    """The trials of an in-memory search (resumed from the journal if there is one)."""
    journal = None
    if trials_save_file:
        journal, trials = TrialsJournal.open(trials_save_file, trials, domain)
    elif trials is None:
        trials = Trials()
    trials.refresh()
    for doc in trials.unfinished_trials:
        if doc["state"] == JOB_STATE_NEW:
            _complete_new_trial(domain, doc)
    return trials, journal


def fmin(fn, space, algo=None, max_evals=None, timeout=None, loss_threshold=None, trials=None,
         rstate=None, allow_trials_fmin=True, pass_expr_memo_ctrl=None,
         catch_eval_exceptions=False, verbose=True, return_argmin=True, points_to_evaluate=None,
         max_queue_len=1, show_progressbar=True, early_stop_fn=None, trials_save_file="",
         n_workers=None, executor=None):
    """Minimize ``fn`` over ``space`` with ``algo``; Hyperopt 0.3's signature and semantics.

    Parameters
    ----------
    fn : callable
        The objective: takes one configuration (the value of ``space``) and returns a loss or
        a dict with ``loss`` and ``status`` (``STATUS_OK``/``STATUS_FAIL``) and anything else.
    space : hp space, or None to read ``hp`` annotations from ``fn``'s parameters.
    algo : suggest function (``tpe.suggest`` by default, ``rand.suggest``, ``anneal.suggest``,
        ``grid.suggest``, ``functools.partial(tpe.suggest, n_startup_jobs=10)``, ...).
    max_evals : int
        Stop when ``trials`` holds this many trials, *counting those already there*, so the same
        call resumes a search. ``None`` means no limit (use ``timeout`` or ``early_stop_fn``).
    timeout : seconds; stop starting new trials after that long.
    loss_threshold : stop once the best loss is at or below it.
    trials : :class:`Trials` (in memory by default) or a store-backed Trials.
    rstate : ``numpy.random.Generator``; default seeded from ``$HPO_FMIN_SEED`` if set.
    catch_eval_exceptions : record an exception of ``fn`` as an ERROR trial and go on, instead
        of re-raising it (the ERROR trial is recorded either way).
    return_argmin : return ``trials.argmin`` (choices as indices); False returns the best
        configuration itself (``space_eval(space, trials.argmin)``).
    points_to_evaluate : list of ``{label: value}`` (choices as indices) to evaluate first; used
        only when ``trials`` holds no trial yet, so a resumed search does not repeat them.
    max_queue_len : how many configurations to ask the algorithm for at once.
    show_progressbar : True (tqdm bar with the best loss), False, or a callback
        ``(initial, total) -> context manager`` yielding an object with ``update``/``postfix``.
    early_stop_fn : ``fn(trials, *args) -> (stop, args)``, e.g. ``no_progress_loss(20)``.
    trials_save_file : path of a journal (:mod:`hpo.trials_file`) that records every trial as
        it is queued and as it finishes, at a constant cost per trial; when the file exists
        the search resumes from it, and a file of another search space is refused.
    n_workers : with store-backed trials (``StoreTrials("sqlite:///exp.db")``), start this many
        local worker processes for the duration of the search.
    executor : where trials are evaluated (:mod:`hpo.executors`); by default in this process
        for in-memory trials, and by workers through the store for store-backed trials.
    allow_trials_fmin : accepted for Hyperopt compatibility; every search runs the same loop,
        and store-backed trials are always evaluated through their store.

    Stop conditions (``max_evals``, ``timeout``, ``loss_threshold``, ``early_stop_fn``) are
    checked once per finished trial, in the order trials finish, whatever the executor.

    Ctrl-C stops the search cleanly: finished trials are kept (and saved), the interrupted
    trial is dropped, and ``KeyboardInterrupt`` propagates.
    """
    if algo is None:
        algo = default_algo()
    validate_fmin_options(max_evals, timeout, loss_threshold, rstate, max_queue_len,
                          show_progressbar, early_stop_fn, algo, points_to_evaluate)
    if executor is not None and not isinstance(executor, Executor):
        raise InvalidFminArgument(
            f"executor must be an hpo.executors.Executor, got {executor!r}")
    store_backed = getattr(trials, "store", None) is not None
    if store_backed and trials_save_file:
        raise InvalidFminArgument(
            f"trials_save_file={trials_save_file!r} is not used with {type(trials).__name__}: "
            f"the store already keeps every trial; drop the argument"
        )
    if not store_backed and n_workers not in (None, 0, 1):
        raise InvalidFminArgument(
            f"n_workers={n_workers!r} needs store-backed trials, e.g. "
            f"trials=StoreTrials('sqlite:///search.db'); in-memory Trials run in this process"
        )
    domain = Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl)
    journal = None
    if store_backed:
        trials.refresh()
    else:
        trials, journal = _prepare_in_memory(trials, trials_save_file, domain)
    if executor is None:
        executor = executor_for(trials, n_workers=n_workers, max_queue_len=max_queue_len,
                                catch_eval_exceptions=catch_eval_exceptions)
    SearchLoop(
        trials, domain, algo, executor, rstate or default_rstate(), max_evals=max_evals,
        timeout=timeout, loss_threshold=loss_threshold, early_stop_fn=early_stop_fn,
        progress_callback=progress.choose_callback(show_progressbar, verbose), journal=journal,
        points_to_evaluate=points_to_evaluate if len(trials) == 0 else None,
    ).run()
    return _result(trials, domain, return_argmin)


def _result(trials, domain, return_argmin):
    if len(trials) == 0:
        raise AllTrialsFailed("no trial was run (max_evals reached before the first trial?)")
    argmin = trials.argmin
    return argmin if return_argmin else space_eval(domain.expr, argmin)


# Hyperopt's `Trials.fmin(...)` convenience calls this function; the record is told about it
# here, so that `hpo.base` never imports the loop above it.
Trials.search = staticmethod(fmin)
