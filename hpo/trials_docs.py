"""Hyperopt's helpers for building trials from documents: ``trials_from_docs`` and
``generate_trial``, also reachable as ``hpo.base.trials_from_docs`` and
``hpo.fmin.generate_trial``.

>>> docs = [generate_trial(tid, {"x": float(tid)}) for tid in range(3)]
>>> docs[1]["state"], docs[1]["misc"]["idxs"], docs[1]["misc"]["vals"]
(0, {'x': [1]}, {'x': [1.0]})
>>> trials = trials_from_docs(docs, exp_key=None)
>>> len(trials), [t["tid"] for t in trials]
(3, [0, 1, 2])
"""

from __future__ import annotations

import copy

from .base import JOB_STATE_NEW, Trials, new_misc

__all__ = ["trials_from_docs", "generate_trial"]


def trials_from_docs(docs, validate=True, **kwargs):
    """A :class:`Trials` (built with ``**kwargs``) holding ``docs``, refreshed.

    Every document is checked for Hyperopt's layout whatever ``validate`` says: a
    :class:`Trials` here cannot hold a malformed document, and the error names the trial.

    >>> trials_from_docs([{"tid": 0}])
    Traceback (most recent call last):
    ...
    hpo.exceptions.InvalidTrial: trial document lacks keys ['book_time', 'exp_key', 'misc', 'owner', 'refresh_time', 'result', 'spec', 'state']
    """
    trials = Trials(**kwargs)
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def generate_trial(tid, space):
    """A NEW trial document with id ``tid`` for the point ``space`` (``{label: value}``).

    As in Hyperopt, ``space`` is one point, not a search space; choices are given as indices.
    The document goes into ``Trials.insert_trial_doc`` (or :func:`trials_from_docs`) and is
    evaluated by ``fmin`` before any suggestion.

    >>> generate_trial(0, {"x": 2.5})["misc"]["vals"]
    {'x': [2.5]}
    >>> generate_trial(-1, {"x": 2.5})
    Traceback (most recent call last):
    ...
    ValueError: generate_trial: tid must be an integer >= 0, got -1
    """
    if isinstance(tid, bool) or not isinstance(tid, int) or tid < 0:
        raise ValueError(f"generate_trial: tid must be an integer >= 0, got {tid!r}")
    if not isinstance(space, dict):
        raise TypeError(f"generate_trial: the point must be a dict {{label: value}}, "
                        f"got {space!r} of type {type(space).__name__}")
    return {
        "state": JOB_STATE_NEW, "tid": tid, "spec": None, "result": {"status": "new"},
        "misc": new_misc(tid, {label: [copy.deepcopy(v)] for label, v in space.items()}),
        "exp_key": None, "owner": None, "version": 0, "book_time": None, "refresh_time": None,
    }
