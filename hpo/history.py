"""Per-label arrays of finished trials, maintained incrementally for search algorithms.

Algorithms need "the values of label x and the losses of the trials where x was active" on
every suggestion. Rebuilding that from the trial documents costs O(history) Python work per
suggestion; :class:`History` instead appends one row per finished trial (amortized O(1)) and
hands out numpy views, so an algorithm's per-suggestion cost is numpy work only.

>>> h = History()
>>> h.add(tid=0, vals={"x": [0.5], "y": []}, loss=1.0, ok=True)
>>> h.add(tid=1, vals={"x": [0.1], "y": [3.0]}, loss=0.2, ok=True)
>>> h.column("y")
array([nan,  3.])
>>> h.best_tid, h.best_loss
(1, 0.2)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

_INITIAL_CAPACITY = 64


def _as_number(value):
    """``value`` as a float if it is a real number (numpy scalars included), else None.

    Only numbers go into the matrix; OBJECT values (e.g. architectures) stay NaN. Values
    written by user code (warm starts, ``points_to_evaluate``) are often numpy scalars
    (``np.int64``, ``np.float32``, ``np.bool_``); they are numbers like any other.

    >>> _as_number(np.float32(0.5)), _as_number(np.int64(3)), _as_number(np.bool_(True))
    (0.5, 3.0, 1.0)
    >>> _as_number({"layers": [3]}) is None, _as_number(np.array(2)), _as_number(1j) is None
    (True, 2.0, True)
    """
    if isinstance(value, (numbers.Real, np.bool_)):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "biuf":
        return float(value)
    return None


class History:
    """Finished trials as a growing matrix: one row per trial, one column per label.

    ``values`` holds each label's value (choice index for choices) or NaN where the label was
    inactive; ``losses`` holds the loss (NaN for trials that failed or had no loss); ``ok``
    says whether the trial finished with status ``ok``.
    """

    def __init__(self):
        self._n = 0
        self._capacity = _INITIAL_CAPACITY
        self._columns: dict[str, int] = {}
        self._values = np.full((self._capacity, 0), np.nan)
        self._losses = np.full(self._capacity, np.nan)
        self._tids = np.zeros(self._capacity, dtype=np.int64)
        self._ok = np.zeros(self._capacity, dtype=bool)
        self._fidelity = np.full(self._capacity, np.nan)
        self.n_pruned = 0
        self.best_tid: int | None = None
        self.best_loss = math.inf
        self.n_ok = 0

    def __len__(self):
        return self._n

    def _grow_rows(self):
        self._capacity *= 2
        extra = self._capacity - len(self._losses)
        self._values = np.vstack([self._values, np.full((extra, self._values.shape[1]), np.nan)])
        self._losses = np.concatenate([self._losses, np.full(extra, np.nan)])
        self._tids = np.concatenate([self._tids, np.zeros(extra, dtype=np.int64)])
        self._ok = np.concatenate([self._ok, np.zeros(extra, dtype=bool)])
        self._fidelity = np.concatenate([self._fidelity, np.full(extra, np.nan)])

    def _add_column(self, label):
        self._columns[label] = self._values.shape[1]
        self._values = np.hstack([self._values, np.full((self._capacity, 1), np.nan)])

    def add(self, tid, vals, loss, ok, fidelity=None):
        """Append one finished trial; ``vals`` is its ``misc.vals``.

        ``fidelity``: for a trial that did not run to its end -- a pruned one (``ok`` False,
        ``loss`` its last report) or one run at a budget -- the step or budget it reached.
        """
        if self._n == self._capacity:
            self._grow_rows()
        row = self._n
        for label, value in vals.items():
            column = self._columns.get(label)
            if column is None:
                self._add_column(label)
                column = self._columns[label]
            if value:
                number = _as_number(value[0])
                if number is not None:
                    self._values[row, column] = number
        loss = math.nan if loss is None else float(loss)
        self._losses[row] = loss
        self._tids[row] = tid
        self._ok[row] = ok
        self._fidelity[row] = math.nan if fidelity is None else float(fidelity)
        if not ok and fidelity is not None and not math.isnan(loss):
            self.n_pruned += 1
        self._n += 1
        if ok:
            self.n_ok += 1
            # `loss < best` is False for NaN, and ok trials never carry NaN losses.
            if self.best_tid is None or loss < self.best_loss:
                self.best_tid, self.best_loss = tid, loss

    @property
    def losses(self):
        """Losses of all finished trials (NaN where there is none), in finishing order."""
        return self._losses[: self._n]

    @property
    def ok(self):
        return self._ok[: self._n]

    @property
    def fidelity(self):
        """The step (pruned trials) or budget at which each trial's loss was observed; NaN for
        trials that ran to their end (see :func:`hpo.algos.common.ranking_losses`)."""
        return self._fidelity[: self._n]

    @property
    def tids(self):
        return self._tids[: self._n]

    @property
    def labels(self):
        return tuple(self._columns)

    def column(self, label):
        """Values of ``label`` over all finished trials, NaN where it was inactive."""
        column = self._columns.get(label)
        if column is None:
            return np.full(self._n, np.nan)
        return self._values[: self._n, column]

    def matrix(self, labels):
        """Values of several labels as an ``(n_finished, len(labels))`` array (a copy)."""
        out = np.full((self._n, len(labels)), np.nan)
        for j, label in enumerate(labels):
            column = self._columns.get(label)
            if column is not None:
                out[:, j] = self._values[: self._n, column]
        return out
