"""What every suggest plugin shares: turning table rows into new trial documents."""

from __future__ import annotations

import numpy as np

from ..base import new_misc


def docs_from_rows(new_ids, domain, trials, rows, extra_misc=None):
    """New trial documents, one per ``(tid, row)`` pair, rows in the compiled table's layout.

    ``extra_misc`` (one dict per row, or None) is merged into each document's ``misc``.
    """
    compiled = domain.compiled
    miscs = []
    for i, (tid, row) in enumerate(zip(new_ids, rows)):
        misc = new_misc(tid, compiled.row_to_vals(row))
        if extra_misc is not None:
            misc.update(extra_misc[i])
        miscs.append(misc)
    n = len(miscs)
    return trials.new_trial_docs(
        list(new_ids[:n]), [None] * n, [{"status": "new"} for _ in range(n)], miscs
    )


def ranking_losses(history):
    """Losses of the finished trials for ranking them, pruned and budget-limited ones included.

    Trials that ran to their end with status ``ok`` keep their loss. Trials observed at a
    partial resource -- pruned ones at their last reported step, budget-driven ones at their
    budget (``history.fidelity``) -- rank after them, in Optuna's order: a larger step first,
    then a lower loss. They get values above every complete trial's loss that preserve that
    order (ranks only matter to the algorithms). Failed trials get ``inf``.

    >>> from hpo.history import History
    >>> h = History()
    >>> h.add(0, {}, 0.9, True); h.add(1, {}, 0.1, False, fidelity=3)
    >>> h.add(2, {}, 0.5, False, fidelity=9); h.add(3, {}, None, False)
    >>> ranking_losses(h).tolist()
    [0.9, 2.9, 1.9, inf]
    """
    ok = history.ok
    losses = history.losses
    out = np.where(ok, losses, np.inf)
    fidelity = history.fidelity
    partial = np.flatnonzero(~np.isnan(fidelity) & ~np.isnan(losses))
    if not len(partial):
        return out
    complete = ok & np.isnan(fidelity) & np.isfinite(losses)
    offset = float(losses[complete].max()) if complete.any() else 0.0
    order = partial[np.lexsort((losses[partial], -fidelity[partial]))]
    out[order] = offset + 1.0 + np.arange(len(order))
    return out


def n_observations(history):
    """How many finished trials an algorithm can learn from: ``ok`` and pruned ones.

    >>> from hpo.history import History
    >>> h = History(); h.add(0, {}, 0.5, True); h.add(1, {}, 0.7, False, fidelity=2)
    >>> n_observations(h)
    2
    """
    return history.n_ok + history.n_pruned
