"""What every suggest plugin shares: turning table rows into new trial documents."""

from __future__ import annotations

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
