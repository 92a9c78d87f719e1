"""Where trials are evaluated: the executors of the one search loop (:mod:`hpo.loop`).

An executor is told about the search once (:meth:`~hpo.executors.base.Executor.start`), says
how many more trials it has room for (:meth:`room`), makes progress on the trials it was given
(:meth:`step`: evaluate one, or wait for workers), and is closed at the end. It never decides
when the search stops, never talks to the algorithm and never draws a progress bar: the loop
does, the same way for every executor.

- :class:`~hpo.executors.in_process.InProcessExecutor`: trials run one after the other in this
  process (in-memory :class:`~hpo.base.Trials`);
- :class:`~hpo.executors.store.StoreExecutor`: trials are queued in a job store and run by
  ``hpo-worker`` processes (started by ``fmin(n_workers=...)`` or by hand).

Adding an executor (a cluster scheduler, say) is one new module implementing
:class:`~hpo.executors.base.Executor`, passed as ``fmin(..., executor=...)``.

>>> from hpo import Trials
>>> type(executor_for(Trials())).__name__
'InProcessExecutor'
"""

from __future__ import annotations

from .base import Executor
from .in_process import InProcessExecutor


def executor_for(trials, n_workers=None, catch_eval_exceptions=False, max_queue_len=1):
    """The default executor for ``trials``: workers through the store, or this process."""
    if getattr(trials, "store", None) is not None:
        from .store import StoreExecutor  # only store-backed searches need the store machinery

        return StoreExecutor(n_workers=n_workers, catch_eval_exceptions=catch_eval_exceptions,
                             max_queue_len=max_queue_len)
    return InProcessExecutor(catch_eval_exceptions=catch_eval_exceptions,
                             max_queue_len=max_queue_len)


__all__ = ["Executor", "InProcessExecutor", "executor_for"]
