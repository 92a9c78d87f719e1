"""Trials holding a given finished history, and short searches, for the algorithm tests."""

from __future__ import annotations

import numpy as np

from hpo import JOB_STATE_DONE, STATUS_OK, Trials, fmin
from hpo.base import new_misc


def finished_trials(points_and_losses, trials=None):
    """Trials holding finished ``ok`` documents at the given ``({label: [v] or []}, loss)`` pairs.

    The ``vals`` are stored as given (numpy scalars stay numpy scalars), as a warm start
    written by user code would store them.
    """
    trials = Trials() if trials is None else trials
    for vals, loss in points_and_losses:
        tid, = trials.new_trial_ids(1)
        doc, = trials.new_trial_docs([tid], [None], [{"status": "new"}], [new_misc(tid, vals)])
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"loss": loss, "status": STATUS_OK}
        trials.insert_trial_doc(doc)
    trials.refresh()
    return trials


def run(space, algo, max_evals, fn=None, trials=None, seed=0, **kwargs):
    """A quiet, seeded search of ``max_evals`` trials of ``fn`` (a constant loss by default)."""
    trials = Trials() if trials is None else trials
    fmin(fn or (lambda p: 0.0), space, algo=algo, max_evals=max_evals, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False, **kwargs)
    return trials


def points(trials):
    """Each trial's active ``(label, value)`` pairs, sorted, as a tuple."""
    return [tuple(sorted((k, v[0]) for k, v in t["misc"]["vals"].items() if v)) for t in trials]
