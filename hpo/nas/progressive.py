"""Progressive priors: finding their parameter in a space, and reading the trials over it.

A *progressive prior* is a custom prior (:func:`hpo.spaces.custom`) with, besides
``sample(rng)``, ``validate(json)`` and ``decode(json)``, an ``initial_values()`` method: every
distinct simplest value, in a deterministic order. Its decoded values have ``expand()`` (the
distinct values one step more complex, ``[]`` at the maximum level), ``level`` (1 for the
simplest), ``hash`` (canonical), ``to_json()``, ``features()`` (a 1-D float array of one
length for the whole prior) and, optionally, ``equivalent_features()`` (feature vectors of
equivalent forms of the value) and ``parent()``. :mod:`hpo.nas.pnas` searches any such prior;
``nas.space.cells`` is one, a prior over tabular-benchmark cells is another.

>>> from hpo import hp
>>> from hpo.spaces import compile_space, custom
>>> class Bits:  # values: tuples of bits, one bit longer per level (just enough to be found)
...     def initial_values(self): return [(0,), (1,)]
...     def sample(self, rng): return [0]
...     def decode(self, value): return tuple(value)
>>> space = {"v": custom("v", Bits()), "lr": hp.uniform("lr", 0, 1)}
>>> find_progressive_param(compile_space(space)).label
'v'
"""

from __future__ import annotations

import numpy as np

from ..base import JOB_STATE_NEW, JOB_STATE_RUNNING

PENDING_STATES = (JOB_STATE_NEW, JOB_STATE_RUNNING)


def is_progressive(prior):
    """True when ``prior`` offers ``initial_values()`` (the progressive-prior protocol)."""
    return callable(getattr(prior, "initial_values", None)) and callable(getattr(prior, "decode", None))


def find_progressive_param(compiled, label=None):
    """The compiled space's row of its progressive parameter (``label``, or the only one).

    Raises ``ValueError`` naming what was found when there is none, or several and ``label``
    does not pick one, or the parameter sits inside an ``hp.choice``.
    """
    found = [spec for spec in compiled.params if spec.is_object and is_progressive(spec.prior)]
    if label is not None:
        picked = [spec for spec in found if spec.label == label]
        if not picked:
            raise ValueError(f"label={label!r} is not a progressive parameter of the space; its "
                             f"progressive parameters are {[s.label for s in found]}")
        found = picked
    if not found:
        raise ValueError("the space has no progressive parameter (a custom prior with "
                         "initial_values(), such as nas.space.cells); pnas has nothing to search")
    if len(found) > 1:
        raise ValueError(f"the space has {len(found)} progressive parameters "
                         f"{[s.label for s in found]}; pass label= to say which one pnas searches")
    spec = found[0]
    if not spec.always_active:
        raise ValueError(f"the progressive parameter {spec.label!r} must be always active "
                         f"(not inside an hp.choice)")
    return spec


class TrialView:
    """The trials of a search as pnas sees them: each trial's value, state and loss.

    ``values[tid]`` is the decoded value (None when the trial has no value of the parameter
    or one the prior cannot decode); ``hashes[tid]`` its canonical hash; ``ok[tid]`` the loss
    of a trial that finished with status ok and a finite loss.
    """

    def __init__(self, trials, spec):
        self.spec, self.prior = spec, spec.prior
        self.values, self.hashes, self.pending, self.ok = {}, {}, set(), {}
        self.by_hash = {}
        for doc in trials.all_trials:  # a cell whose training raised is seen too
            tid = doc["tid"]
            value = self._decode(doc)
            if value is None:
                continue
            self.values[tid] = value
            self.hashes[tid] = value.hash
            self.by_hash.setdefault(value.hash, []).append(tid)
            if doc["state"] in PENDING_STATES:
                self.pending.add(tid)
        history = trials.history
        for tid, ok, loss in zip(history.tids.tolist(), history.ok.tolist(), history.losses.tolist()):
            if ok and tid in self.values and np.isfinite(loss):
                self.ok[tid] = float(loss)
        self.seen = set(self.by_hash)

    def _decode(self, doc):
        stored = doc["misc"]["vals"].get(self.spec.label)
        if not stored:
            return None
        try:
            return self.prior.decode(stored[0])
        except (ValueError, TypeError, KeyError):
            return None  # another algorithm's malformed value: not pnas's to search from

    def is_pending(self, value_hash):
        return any(tid in self.pending for tid in self.by_hash.get(value_hash, ()))

    def evaluated_tid(self, value_hash):
        """The tid of a finished, ok trial of the value, or None."""
        tids = [tid for tid in self.by_hash.get(value_hash, ()) if tid in self.ok]
        return min(tids) if tids else None

    def ranked_ok(self, level=None):
        """``(tid, value, loss)`` of ok trials (at ``level`` if given), best loss first."""
        rows = [(loss, tid) for tid, loss in self.ok.items()
                if level is None or self.values[tid].level == level]
        return [(tid, self.values[tid], loss) for loss, tid in sorted(rows)]


def training_set(values, losses):
    """``(X, y, groups)``: each value's features, plus its equivalent forms' when it has any."""
    rows, targets, groups = [], [], []
    for i, (value, loss) in enumerate(zip(values, losses)):
        feats = [np.asarray(value.features(), dtype=float)]
        equivalent = getattr(value, "equivalent_features", None)
        if callable(equivalent):
            feats += [np.asarray(f, dtype=float) for f in equivalent()]
        rows += feats
        targets += [float(loss)] * len(feats)
        groups += [i] * len(feats)
    return np.vstack(rows), np.asarray(targets), np.asarray(groups)
