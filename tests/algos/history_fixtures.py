"""Trials holding a given finished history, for tests that feed algorithms a fixed past."""

from __future__ import annotations

from hpo import JOB_STATE_DONE, STATUS_OK, Trials
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
