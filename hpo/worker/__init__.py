"""The worker: reserves NEW trials from a store, runs them, writes their results.

One room per concern:

- :mod:`~hpo.worker.domains` -- fetch, verify and cache each experiment's domain;
- :mod:`~hpo.worker.heartbeat` -- the thread keeping a running trial alive in the store;
- :mod:`~hpo.worker.stopping` -- SIGTERM/SIGINT and the grace a running trial gets;
- :mod:`~hpo.worker.loop` -- :class:`Worker`, the reserve/run/write loop;
- :mod:`~hpo.worker.cli` -- the ``hpo-worker`` command; :mod:`~hpo.worker.exits` its statuses;
- :mod:`~hpo.worker.pool` -- :class:`~hpo.worker.pool.LocalWorkers`, the workers
  ``fmin(..., n_workers=N)`` forks from one preloaded server (:mod:`~hpo.worker.forkserver`).

::

    hpo-worker --store sqlite:///exp.db --exp-key exp1
    hpo-worker --store mongo://host:27017/hpo_db --exp-key exp1 --max-jobs 100

SIGTERM (and Ctrl-C) stop the worker: idle, it exits at once; running a trial, it lets the
trial finish for up to ``--term-grace`` seconds, then puts it back in the queue (NEW) and exits.
A trial is running from the moment it is reserved, before its objective starts.

>>> import argparse
>>> parser = argparse.ArgumentParser(); add_arguments(parser)
>>> parser.parse_args(["--store", "sqlite:///e.db"]).heartbeat
5.0
"""

from .cli import STORE_URL_ENV, add_arguments, main, run  # noqa: F401  (re-exported)
from .domains import DomainCache, DomainLoadError  # noqa: F401
from .exits import (  # noqa: F401
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_UNVERIFIED,
    EXIT_USAGE,
)
from .heartbeat import Heartbeat  # noqa: F401
from .loop import Worker, WorkerCtrl  # noqa: F401
from .stopping import GracefulStop, WorkerTerminated  # noqa: F401

__all__ = ["Worker", "WorkerCtrl", "WorkerTerminated", "add_arguments", "run", "main",
           "STORE_URL_ENV", "DomainCache", "DomainLoadError", "Heartbeat", "GracefulStop",
           "EXIT_OK", "EXIT_FAILURES", "EXIT_USAGE", "EXIT_UNVERIFIED", "EXIT_UNAVAILABLE"]
