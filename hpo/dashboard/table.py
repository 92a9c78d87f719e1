"""Trials as flat rows: the dashboard's table (sorted, filtered, one page at a time) and
``hpo export``.

A row holds what a person scans for: the trial id, its status, loss, duration, the worker
that ran it, its error, and one value per parameter (``None`` where the parameter was
inactive; a choice gives its option index, as ``misc.vals`` does). Rows are kept per trial and
replaced only for the trials that changed, so following a search costs O(changes).

>>> table = TrialTable()
>>> table.update([{"tid": 0, "state": 2, "result": {"status": "ok", "loss": 0.5},
...                "misc": {"vals": {"x": [0.1], "y": []}}}])
>>> page = table.query(sort="loss")
>>> page["total"], page["rows"][0]["params"]
(1, {'x': 0.1, 'y': None})
"""

from __future__ import annotations

import json
import math

from ..base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
)

#: The status shown for each job state (a finished trial shows its result's status).
STATE_STATUS = {JOB_STATE_NEW: "new", JOB_STATE_RUNNING: "running", JOB_STATE_ERROR: "error",
                JOB_STATE_CANCEL: "cancelled"}
#: Columns every row has, before the parameters.
FIXED_COLUMNS = ("tid", "status", "loss", "duration", "owner", "error")
SORT_KEYS = FIXED_COLUMNS


def trial_status(doc):
    """``new``, ``running``, ``error``, ``cancelled``, or a finished trial's result status.

    >>> trial_status({"state": 2, "result": {"status": "pruned"}})
    'pruned'
    """
    if doc["state"] == JOB_STATE_DONE:
        return (doc.get("result") or {}).get("status", "ok")
    return STATE_STATUS.get(doc["state"], str(doc["state"]))


def _seconds(doc):
    start, end = doc.get("book_time"), doc.get("refresh_time")
    if doc["state"] not in (JOB_STATE_DONE, JOB_STATE_ERROR) or start is None or end is None:
        return None
    try:
        return round((end - start).total_seconds(), 3)
    except (TypeError, AttributeError):
        return None  # a journal written by hand may hold other types


def _error(doc):
    error = (doc.get("misc") or {}).get("error")
    if error:
        return ": ".join(str(part) for part in error)
    result = doc.get("result") or {}
    return result.get("failure") or result.get("error")


def param_value(value, short=False):
    """A parameter value for a row: numbers and strings as they are, anything else (an
    architecture, say) as compact JSON -- or, with ``short``, as a summary for a table cell.

    >>> param_value(3), param_value({"layers": [1]}), param_value({"layers": [1, 2]}, short=True)
    (3, '{"layers":[1]}', 'architecture, 2 layers')
    >>> param_value({"cell": {"blocks": [[-1, "conv_3x3", -2, "identity"]]}, "layers": [1]}, True)
    'cell of 1 blocks, 1 layers'
    """
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    if short and isinstance(value, dict) and isinstance(value.get("layers"), list):
        cell = value.get("cell")
        if isinstance(cell, dict) and isinstance(cell.get("blocks"), list):  # a PNAS cell
            return f"cell of {len(cell['blocks'])} blocks, {len(value['layers'])} layers"
        return f"architecture, {len(value['layers'])} layers"
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text[:77] + "..." if short and len(text) > 80 else text


def trial_row(doc, short=False):
    """The row of one trial document (see the module docstring); ``short`` summarizes values
    that are not numbers (see :func:`param_value`).

    >>> trial_row({"tid": 3, "state": 1, "owner": "w1", "misc": {"vals": {"x": [2]}}})["status"]
    'running'
    """
    result = doc.get("result") or {}
    loss = result.get("loss")
    loss = float(loss) if isinstance(loss, (int, float)) else None
    vals = (doc.get("misc") or {}).get("vals") or {}
    return {
        "tid": doc["tid"], "status": trial_status(doc), "loss": loss,
        "duration": _seconds(doc), "owner": doc.get("owner"), "error": _error(doc),
        "params": {label: (param_value(v[0], short) if v else None) for label, v in vals.items()},
    }


def _sort_key(column):
    def key(row):
        value = row["params"].get(column) if column not in FIXED_COLUMNS else row[column]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0, "")  # missing values last, whatever the direction
        if isinstance(value, (int, float)):
            return (0, value, "")
        return (0, 0, str(value))
    return key


class TrialTable:
    """Rows of the trials of one experiment, updated as documents change; ``short``: summarize
    values that are not numbers (the dashboard), else keep them whole as JSON (exports)."""

    def __init__(self, short=False):
        self.short = short
        self._rows = {}
        self.labels = []
        self._known = set()

    def __len__(self):
        return len(self._rows)

    def update(self, docs):
        """Replace the rows of ``docs`` (new labels are appended to :attr:`labels`)."""
        for doc in docs:
            row = trial_row(doc, self.short)
            self._rows[row["tid"]] = row
            for label in row["params"]:
                if label not in self._known:
                    self.labels.append(label)
                    self._known.add(label)

    def rows(self):
        """Every row, by trial id."""
        return [self._rows[tid] for tid in sorted(self._rows)]

    def query(self, status=None, sort="tid", descending=False, offset=0, limit=50):
        """One page: ``{"total", "offset", "rows", "labels", "counts"}``.

        ``status`` keeps the rows of one status (``ok``, ``fail``, ``pruned``, ``new``,
        ``running``, ``error``, ``cancelled``); ``sort`` is a fixed column or a parameter label;
        rows without a value sort last. ``counts`` gives the number of rows per status.

        >>> TrialTable().query(sort="nope")
        Traceback (most recent call last):
        ...
        ValueError: sort must be one of ('tid', 'status', 'loss', 'duration', 'owner', 'error') or a parameter label, got 'nope'
        """
        if sort not in SORT_KEYS and sort not in self._known:
            raise ValueError(f"sort must be one of {SORT_KEYS} or a parameter label, got {sort!r}")
        if not (isinstance(offset, int) and offset >= 0):
            raise ValueError(f"offset must be an int >= 0, got {offset!r}")
        if not (isinstance(limit, int) and 1 <= limit <= 1000):
            raise ValueError(f"limit must be an int from 1 to 1000, got {limit!r}")
        counts = {}
        for row in self._rows.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        rows = [r for r in self._rows.values() if status in (None, "", r["status"])]
        key = _sort_key(sort)
        if descending:
            present = [r for r in rows if key(r)[0] == 0]
            missing = [r for r in rows if key(r)[0] == 1]
            rows = sorted(present, key=key, reverse=True) + sorted(missing, key=lambda r: r["tid"])
        else:
            rows.sort(key=lambda r: (key(r), r["tid"]))
        return {"total": len(rows), "offset": offset, "rows": rows[offset:offset + limit],
                "labels": list(self.labels), "counts": counts}
