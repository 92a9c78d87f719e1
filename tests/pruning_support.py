"""Objectives of the pruning tests that worker processes import by reference (no tests here).

The two trials of :func:`asha_pair` meet at barriers -- files in the directory named by
``$HPO_TEST_BARRIER_DIR`` -- so that each step happens in a known order whatever the
scheduling: the first trial reports at the rung, then the second reports there while the
first is still running (in the other worker), then the first finishes.
"""

from __future__ import annotations

import json
import os
import time

import hpo

BARRIER_DIR_ENV = "HPO_TEST_BARRIER_DIR"
#: Longest wait at a barrier before the trial fails (a broken test, not a timing bet).
BARRIER_TIMEOUT = 120.0


def _path(name):
    return os.path.join(os.environ[BARRIER_DIR_ENV], name)


def _signal(name, payload=None):
    tmp = _path(name) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, _path(name))  # atomic: the waiter never reads a half-written file


def _wait(name):
    end = time.monotonic() + BARRIER_TIMEOUT
    while not os.path.exists(_path(name)):
        if time.monotonic() > end:
            raise TimeoutError(f"barrier {name!r} not reached within {BARRIER_TIMEOUT} s")
        time.sleep(0.01)
    with open(_path(name)) as f:
        return json.load(f)


def asha_pair(params):
    """Trial "first" (x < 0.5) reports at rung 1 and waits; trial "second" then reports a worse
    loss at rung 1 and says what the pruner decided; then "first" finishes."""
    x = params["x"]
    if x < 0.5:
        stop = hpo.report(1, x)
        _signal("first_reported", {"pid": os.getpid(), "stopped": stop})
        _wait("second_decided")
        hpo.report(2, x / 2)
        return x / 2
    _wait("first_reported")
    stop = hpo.report(1, x)
    _signal("second_decided", {"pid": os.getpid(), "stopped": stop})
    if stop:
        raise hpo.TrialPruned()
    return x


def epochs(params):
    """Nine epochs whose loss tends to x; stops when the pruner says so."""
    loss = None
    for epoch in range(1, 10):
        loss = params["x"] + 1.0 / epoch
        if hpo.report(epoch, loss):
            raise hpo.TrialPruned()
    return loss


def by_budget(params):
    """Reads its budget; the loss improves with the budget (for budget-driven searches)."""
    budget = hpo.trial_budget()
    return {"loss": params["x"] + 1.0 / budget, "status": "ok", "seen_budget": budget}


#: Store methods whose calls per report are measured: the write of a report, and the reads
#: a pruning decision may make.
COUNTED = ("checkpoint", "changes_since", "get_trials")


def count_store_calls(store):
    """Make the open ``store`` count calls of :data:`COUNTED` methods (``store.calls``) and the
    documents each ``changes_since`` returned (``store.docs_read``); returns the store.

    The store keeps working as before: its class is swapped for a subclass that counts.
    """
    base = type(store)

    def counted(name):
        def method(self, *args, **kwargs):
            self.calls[name] += 1
            out = getattr(base, name)(self, *args, **kwargs)
            if name == "changes_since":
                self.docs_read.append(len(out[0]))
            return out
        return method

    store.__class__ = type(f"Counting{base.__name__}", (base,),
                           {name: counted(name) for name in COUNTED})
    store.reset_counts = lambda: _reset(store)
    _reset(store)
    return store


def _reset(store):
    import collections

    store.calls = collections.Counter()
    store.docs_read = []
