"""What each figure of a search shows, as numpy arrays: shared by matplotlib and the dashboard.

Every function reads a :class:`~hpo.base.Trials` -- in memory or store-backed
(:class:`~hpo.stores.StoreTrials`, after ``refresh()``) -- through its incrementally
maintained :attr:`~hpo.base.Trials.history`, so a figure of 10,000 trials costs numpy work,
not a walk over the documents. Only ``intermediate_values`` reads documents, because reports
of running trials are not in the history.

>>> from hpo import Trials, fmin, hp, rand
>>> trials = Trials()
>>> _ = fmin(lambda x: (x - 1) ** 2, hp.uniform("x", -2, 2), algo=rand.suggest,
...          max_evals=10, trials=trials, show_progressbar=False)
>>> h = optimization_history(trials)
>>> len(h["tids"]), bool(h["best"][-1] == min(trials.losses()))
(10, True)
"""

from __future__ import annotations

import numpy as np

from ..reports import INTERMEDIATE


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # matplotlib is an optional extra
        raise ImportError("plotting needs matplotlib: pip install 'hpo[plot]'") from e
    return plt


def ok_losses(trials):
    """``(tids, losses)`` of the trials that finished with status ok, in finishing order."""
    h = trials.history
    return h.tids[h.ok], h.losses[h.ok]


def optimization_history(trials):
    """Ok trials by trial id: ``{"tids", "losses", "best"}`` (``best``: the running minimum).

    >>> from hpo import Trials
    >>> optimization_history(Trials())["tids"].size
    0
    """
    tids, losses = ok_losses(trials)
    order = np.argsort(tids, kind="stable")
    tids, losses = tids[order], losses[order]
    best = np.minimum.accumulate(losses) if losses.size else losses.copy()
    return {"tids": tids, "losses": losses, "best": best}


def numeric_labels(trials):
    """Labels with at least one number among the ok trials (architectures and other values
    that are not numbers are left out), in the order the search first used them.

    >>> from hpo import Trials
    >>> numeric_labels(Trials())
    []
    """
    h = trials.history
    ok = h.ok
    return [label for label in h.labels if np.isfinite(h.column(label)[ok]).any()]


def _labels(trials, labels):
    known = numeric_labels(trials)
    if labels is None:
        return known
    if isinstance(labels, str):
        labels = [labels]
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f"labels {unknown!r} have no numeric values in these trials; "
                         f"known labels: {known!r}")
    return list(labels)


def slices(trials, labels=None):
    """Per label, the ok trials where it was active: ``{label: {"values", "losses", "tids"}}``.

    Choices give their option index. ``labels`` (default: every numeric label) picks some.

    >>> from hpo import Trials, fmin, hp, rand
    >>> trials = Trials()
    >>> space = hp.choice("c", [0, hp.uniform("y", 0, 1)])
    >>> _ = fmin(lambda p: p, space, algo=rand.suggest, max_evals=20, trials=trials,
    ...          show_progressbar=False)
    >>> s = slices(trials)
    >>> len(s["c"]["values"]) == 20 > len(s["y"]["values"])   # y is active only under c=1
    True
    """
    h = trials.history
    out = {}
    for label in _labels(trials, labels):
        values = h.column(label)
        keep = h.ok & np.isfinite(values)
        out[label] = {"values": values[keep], "losses": h.losses[keep], "tids": h.tids[keep]}
    return out


def parallel_coordinates(trials, labels=None):
    """Ok trials as rows: ``{"labels", "values" (n x labels, NaN where inactive), "losses",
    "tids"}``.

    >>> from hpo import Trials
    >>> parallel_coordinates(Trials())["values"].shape
    (0, 0)
    """
    h = trials.history
    labels = _labels(trials, labels)
    ok = h.ok
    return {"labels": labels, "values": h.matrix(labels)[ok], "losses": h.losses[ok],
            "tids": h.tids[ok]}


def intermediate_values(trials, tids=None):
    """``{tid: (steps, losses)}`` of the reports of each trial (running ones included).

    Trials that reported nothing are left out; ``tids`` picks some trials.

    >>> from hpo import Trials
    >>> intermediate_values(Trials())
    {}
    """
    wanted = None if tids is None else {int(t) for t in tids}
    out = {}
    for doc in trials.trials:
        if wanted is not None and doc["tid"] not in wanted:
            continue
        reports = (doc.get("result") or {}).get(INTERMEDIATE) or []
        if reports:
            steps, losses = zip(*((float(s), float(v)) for s, v in reports))
            out[doc["tid"]] = (np.asarray(steps), np.asarray(losses))
    return out
