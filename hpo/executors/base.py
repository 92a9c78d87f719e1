"""The executor protocol: how the search loop hands trials over and gets them back finished.

>>> Executor().room(None)
Traceback (most recent call last):
...
NotImplementedError
"""

from __future__ import annotations


class Executor:
    """What the search loop needs from whatever evaluates its trials.

    The loop inserts the NEW trials it asks the algorithm for into ``trials`` (the record)
    itself; an executor only makes them finish. Finished trials are read back by the loop from
    the record, in the order they finished, so that every executor is observed the same way.
    """

    def start(self, trials, domain):
        """Called once before the first trial: store the domain, start workers, ..."""

    def room(self, trials):
        """How many more NEW trials the loop may queue now (0 when the queue is full)."""
        raise NotImplementedError

    def step(self, trials):
        """Make progress: evaluate a queued trial, or wait a little for workers, then fold
        whatever finished into ``trials`` (``trials.refresh()``)."""
        raise NotImplementedError

    def raise_for(self, doc):
        """Raise the error of ERROR trial ``doc`` (``catch_eval_exceptions=False``).

        Returns without raising for errors that are not the objective's (a lost worker)."""
        raise NotImplementedError

    def close(self, trials, stopped_early):
        """Called once at the end, also after an exception. ``stopped_early``: the search ended
        before ``max_evals`` (a stop condition or an interruption), so queued trials are not
        needed any more."""
