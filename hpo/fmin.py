"""``fmin``: validate the options, prepare the trials, choose the executor, run the one loop.

>>> from hpo import fmin, hp, rand
>>> import numpy as np
>>> best = fmin(lambda x: (x - 3) ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
...             max_evals=50, rstate=np.random.default_rng(0), show_progressbar=False)
>>> round(best["x"])
3
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import warnings

import numpy as np

from . import progress
from .base import JOB_STATE_NEW, JOB_STATES, Domain, Trials, new_misc
from .exceptions import AllTrialsFailed, InvalidFminArgument
from .executors import Executor, executor_for
from .loop import SearchLoop
from .options import default_algo, default_rstate, validate_fmin_options
from .pruners import Pruner
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
    # Validated against the space when fmin starts (a number outside its bounds is then
    # evaluated as given, with a warning, as Hyperopt does).
    miscs = [new_misc(tid, {label: [value] for label, value in point.items()})
             for tid, point in zip(tids, points)]
    docs = trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"}] * len(tids), miscs)
    for doc in docs:
        doc["result"] = {"status": "new"}
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def _complete_new_trial(domain, doc, warned):
    """Validate a NEW trial given by the user and fill ``[]`` for its inactive labels."""
    vals = domain.compiled.point_to_vals(doc["misc"]["vals"], what=f"trial {doc['tid']}",
                                         warned=warned)
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
    warned = set()  # labels already warned about: one warning per label per fmin call
    check_trials_fit_space(trials, domain.compiled, warned)
    for doc in trials.unfinished_trials:
        if doc["state"] == JOB_STATE_NEW:
            _complete_new_trial(domain, doc, warned)
    return trials, journal


def check_trials_fit_space(trials, compiled, warned=None):
    """Refuse finished trials that the space cannot describe; warn about values off bounds.

    Reusing a ``Trials`` after the space changed would otherwise give a best point with a
    label the space does not have, or fail deep inside an algorithm on a choice index the
    space no longer has. A label that is not in the space, a choice index (or ``randint``
    value) that is not one of the space's, or a value that is not a number for a numeric
    label raises :class:`hpo.stores.DomainMismatch` naming the trial, the label and the value.
    A number outside changed bounds is kept (the algorithms treat it as any other
    observation) with one warning per label.

    >>> from hpo import hp, generate_trials_to_calculate
    >>> from hpo.spaces import compile_space
    >>> old = generate_trials_to_calculate([{"x": 0.5, "old": 1}])
    >>> old.trials[0]["state"] = 2; old.trials[0]["result"] = {"loss": 0.0, "status": "ok"}
    >>> old.refresh()
    >>> check_trials_fit_space(old, compile_space({"x": hp.uniform("x", 0, 1)}))
    Traceback (most recent call last):
    ...
    hpo.stores.base.DomainMismatch: trials=<...> holds trial 0 with label 'old' (value 1), which is not in the space (labels ['x']); pass a new Trials() for a changed space
    """
    warned = set() if warned is None else warned
    for doc in trials.all_trials:
        if doc["state"] == JOB_STATE_NEW:
            continue  # validated, and completed, as a user-given point
        for label, values in (doc.get("misc") or {}).get("vals", {}).items():
            if not values:
                continue
            value = values[0]
            column = compiled.index.get(label)
            if column is None:
                _mismatch(trials, doc, label, value,
                          f"which is not in the space (labels {list(compiled.labels)})")
            _check_value_fits(trials, doc, compiled.params[column], value, warned)


def _check_value_fits(trials, doc, spec, value, warned):
    if spec.is_object:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        _mismatch(trials, doc, spec.label, value, "which is not a number")
    v = float(value)
    low, high = spec.value_bounds()
    if spec.is_categorical and (not v.is_integer() or not low <= v <= high):
        what = "option indices" if spec.kind == "choice" else "randint values"
        _mismatch(trials, doc, spec.label, value, f"but the space's {what} run from {low} to {high}")
    if not math.isnan(v) and not low - 1e-9 <= v <= high + 1e-9 and spec.label not in warned:
        warned.add(spec.label)
        warnings.warn(f"trial {doc['tid']}: label {spec.label!r}: value {value!r} is outside "
                      f"[{low}, {high}]; kept as an observation", stacklevel=4)


def _mismatch(trials, doc, label, value, why):
    from .stores import DomainMismatch

    raise DomainMismatch(
        f"trials={_short_repr(trials)} holds trial {doc['tid']} with label {label!r} "
        f"(value {value!r}), {why}; pass a new Trials() for a changed space"
    )


def _short_repr(obj):
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def _accepted_trials(trials):
    """``trials`` as fmin uses it: an hpo ``Trials``, or a copy of a Hyperopt one.

    An object with Hyperopt's ``.trials`` list of documents (a ``hyperopt.Trials``) is copied
    into a new in-memory :class:`Trials`, with its ``attachments``, so the search continues
    from it; the object itself is not updated.
    """
    if trials is None or isinstance(trials, Trials):
        return trials
    expected = ("expected None, an hpo Trials (e.g. Trials() or StoreTrials('sqlite:///exp.db')) "
                "or a Hyperopt Trials")
    if isinstance(trials, type):
        raise InvalidFminArgument(
            f"trials={trials!r} is a class, not a Trials; {expected} -- "
            f"call it: trials={trials.__name__}()"
        )
    docs = getattr(trials, "trials", None)
    if not isinstance(docs, (list, tuple)):
        raise InvalidFminArgument(
            f"trials={_short_repr(trials)} (a {type(trials).__name__}) is not a Trials; {expected}"
        )
    copied = Trials()
    for i, doc in enumerate(docs):
        copied.insert_trial_doc(_hpo_doc(trials, i, doc))
    attachments = getattr(trials, "attachments", None)
    if isinstance(attachments, dict):
        copied.attachments.update(attachments)
    copied.refresh()
    kind = f"{type(trials).__module__}.{type(trials).__qualname__}"
    logger.warning(
        "trials: a %s with %d trials was given; its trials were copied into an hpo Trials and "
        "the search continues there (the given object is not updated; pass hpo's Trials() to "
        "read the trials afterwards)", kind, len(docs))
    return copied


_MISSING_DOC_KEYS = {"spec": None, "exp_key": None, "owner": None, "version": 0,
                     "book_time": None, "refresh_time": None}


def _hpo_doc(trials, i, doc):
    """A copy of the Hyperopt trial document ``doc`` (``trials.trials[i]``) in hpo's layout."""
    misc = doc.get("misc") if isinstance(doc, dict) else None
    if (not isinstance(misc, dict) or not isinstance(misc.get("vals"), dict)
            or doc.get("state") not in JOB_STATES
            or not isinstance(doc.get("tid"), (numbers.Integral, np.integer))):
        raise InvalidFminArgument(
            f"trials={_short_repr(trials)}: trials.trials[{i}] = {_short_repr(doc)} is not a "
            f"trial document in Hyperopt's layout (tid, state, result, "
            f"misc: {{tid, idxs, vals}})"
        )
    doc = copy.deepcopy(doc)
    doc["tid"] = int(doc["tid"])
    doc["state"] = int(doc["state"])
    for key, default in _MISSING_DOC_KEYS.items():
        doc.setdefault(key, default)
    doc.setdefault("result", {"status": "new"})
    misc = doc["misc"]
    misc.setdefault("tid", doc["tid"])
    misc.setdefault("cmd", ("domain_attachment", "FMinIter_Domain"))
    misc.setdefault("workdir", None)
    misc.setdefault("idxs", {label: ([doc["tid"]] if v else []) for label, v in misc["vals"].items()})
    # Hyperopt keeps numpy scalars in its documents; hpo's hold plain types only.
    for part in ("idxs", "vals"):
        misc[part] = {label: [_plain(v) for v in values] for label, values in misc[part].items()}
    misc["tid"] = int(misc["tid"])
    return doc


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def fmin(fn, space, algo=None, max_evals=None, timeout=None, loss_threshold=None, trials=None,
         rstate=None, allow_trials_fmin=True, pass_expr_memo_ctrl=None,
         catch_eval_exceptions=False, verbose=True, return_argmin=True, points_to_evaluate=None,
         max_queue_len=1, show_progressbar=True, early_stop_fn=None, trials_save_file="",
         n_workers=None, executor=None, pruner=None):
    """Minimize ``fn`` over ``space`` with ``algo``; Hyperopt 0.3's signature and semantics.

    Parameters
    ----------
    fn : callable
        The objective: takes one configuration (the value of ``space``) and returns a loss or
        a dict with ``loss`` and ``status`` (``STATUS_OK``/``STATUS_FAIL``) and anything else.
    space : hp space, or None (or Hyperopt's ``"annotated"``) to read ``hp`` annotations from
        ``fn``'s parameters; ``fn`` is then called with keyword arguments.
    algo : suggest function (``tpe.suggest`` by default, ``rand.suggest``, ``anneal.suggest``,
        ``grid.suggest``, ``functools.partial(tpe.suggest, n_startup_jobs=10)``, ...).
    max_evals : int
        Stop when ``trials`` holds this many trials, *counting those already there*, so the same
        call resumes a search. ``None`` means no limit (use ``timeout`` or ``early_stop_fn``).
    timeout : seconds; stop starting new trials after that long.
    loss_threshold : stop once the best loss is at or below it.
    trials : :class:`Trials` (in memory by default) or a store-backed Trials. A Hyperopt
        ``Trials`` (an object with Hyperopt's ``.trials`` documents) is copied into an hpo
        ``Trials`` and the search continues from its trials (``max_evals`` counts them).
        Finished trials must fit the space (:func:`check_trials_fit_space`).
    rstate : ``numpy.random.Generator``; default seeded from ``$HPO_FMIN_SEED`` if set.
    catch_eval_exceptions : record an exception of ``fn`` as an ERROR trial and go on, instead
        of re-raising it (the ERROR trial is recorded either way).
    return_argmin : return ``trials.argmin`` (choices as indices); False returns the best
        configuration itself (``space_eval(space, trials.argmin)``).
    points_to_evaluate : list of ``{label: value}`` (choices as indices) to evaluate first; used
        only when ``trials`` holds no trial yet, so a resumed search does not repeat them.
        A number outside its parameter's bounds is evaluated as given, with a warning.
    max_queue_len : how many configurations to ask the algorithm for at once.
    show_progressbar : True (tqdm bar with the best loss), False, or a callback
        ``(initial, total) -> context manager`` yielding an object with ``update``/``postfix``.
    early_stop_fn : ``fn(trials, *args) -> (stop, args)``, e.g. ``no_progress_loss(20)``.
    trials_save_file : path of a journal (:mod:`hpo.trials_file`) that records every trial as
        it is queued and as it finishes, at a constant cost per trial; when the file exists
        the search resumes from it, and a file of another search space is refused.
    n_workers : with store-backed trials (``StoreTrials("sqlite:///exp.db")``), start this many
        local worker processes for the duration of the search. An objective that must run in
        one process declares ``max_workers = 1`` (and ``max_workers_reason``); a larger
        ``n_workers`` is refused before any worker starts.
    executor : where trials are evaluated (:mod:`hpo.executors`); by default in this process
        for in-memory trials, and by workers through the store for store-backed trials.
    allow_trials_fmin : accepted for Hyperopt compatibility; every search runs the same loop,
        and store-backed trials are always evaluated through their store.
    pruner : an :mod:`hpo.pruners` object (``MedianPruner()``, ``SuccessiveHalvingPruner()``,
        ``HyperbandPruner(max_resource=...)``) judging the losses the objective reports with
        ``hpo.report(step, loss)``: when it returns True the objective raises
        ``hpo.TrialPruned()`` and the trial is recorded with status ``"pruned"`` (see
        ``docs/pruning.md``). None: reports are recorded, no trial is stopped.

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
    trials = _accepted_trials(trials)
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
    _check_worker_limit(fn, n_workers)
    if pruner is not None and not isinstance(pruner, Pruner):
        raise InvalidFminArgument(
            f"pruner={_short_repr(pruner)} is not a pruner; use one of hpo.pruners "
            f"(MedianPruner(), SuccessiveHalvingPruner(), HyperbandPruner(max_resource=...))"
            + (" -- call it" if isinstance(pruner, type) and issubclass(pruner, Pruner) else ""))
    domain = Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl, pruner=pruner)
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
        points_to_evaluate=points_to_evaluate if trials.n_evaluated == 0 else None, pruner=pruner,
    ).run()
    return _result(trials, domain, return_argmin)


def _check_worker_limit(fn, n_workers):
    """Refuse more local workers than the objective declares it can run in.

    An objective that keeps state in its process (a supernet, an open device) says so with
    ``max_workers`` (an int) and ``max_workers_reason`` (why); fmin refuses a larger
    ``n_workers`` before any worker starts instead of failing inside a trial.
    """
    limit = getattr(fn, "max_workers", None)
    if limit is None or n_workers in (None, 0) or n_workers <= limit:
        return
    reason = getattr(fn, "max_workers_reason", None) or "it says so with max_workers"
    raise InvalidFminArgument(
        f"n_workers={n_workers!r} is more than the objective {_short_repr(fn)} can run in "
        f"(max_workers={limit}): {reason}")


def _result(trials, domain, return_argmin):
    if trials.n_evaluated == 0:
        raise AllTrialsFailed("no trial was run (max_evals reached before the first trial?)")
    if return_argmin:
        return trials.argmin
    try:
        argmin = trials.argmin
    except AllTrialsFailed as e:
        # Hyperopt returns None here (and raises only for the argmin): migrated code checks
        # for None.
        logger.warning("fmin: %s; returning None (return_argmin=False)", e)
        return None
    return space_eval(domain.expr, argmin)


# Hyperopt's `Trials.fmin(...)` convenience calls this function; the record is told about it
# here, so that `hpo.base` never imports the loop above it.
Trials.search = staticmethod(fmin)

# Hyperopt's `hyperopt.fmin.generate_trial`, where migrated code looks for it.
from .trials_docs import generate_trial  # noqa: E402,F401
