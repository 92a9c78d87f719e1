"""The ``hpo-worker`` command (also ``hpo worker``): options, then one :class:`Worker` run.

::

    hpo-worker --store sqlite:///exp.db --exp-key exp1
    HPO_STORE_URL='mongo://user:pw@host:27017/hpo_db?authSource=admin' hpo-worker --exp-key exp1

The store url comes from ``--store`` or, when that is not given, from the environment
variable ``HPO_STORE_URL`` -- the way to pass credentials without showing them in ``ps``.
The shared secret comes from ``HPO_SECRET`` only. The exit status says why the worker
stopped (:mod:`hpo.worker.exits`): 0 done or stopped, 1 too many failed trials in a row,
2 bad arguments, 3 a domain this worker cannot verify or load (the trial is put back), 4 the
store could not be opened or stayed unreachable.

Hyperopt's ``hyperopt-mongo-worker`` flags are accepted too: ``--mongo=host[:port]/db``
stands for ``--store mongo://host:port/db/jobs`` (port 27017 when not given).
``--last-job-timeout T`` means what it means to Hyperopt: reserve no job once ``T`` seconds
have passed since the worker started (a deadline, not an idle time; a trial running at the
deadline finishes and is recorded, then the worker exits with status 0). It combines with
``--reserve-timeout`` (exit after idling that long) as in Hyperopt: whichever comes first
ends the worker. Hyperopt looks at its deadline only between reservation attempts, so a poll
begun before it may still take a job up to ``--reserve-timeout`` later, and ignores it with
``--max-jobs 1``; hpo looks before every poll, whatever ``--max-jobs``, so no job is reserved
after the deadline, as the flag's help says. ``--no-subprocesses`` (``-N``) is accepted and changes nothing: hpo's worker
always runs the objective in its own process, which is what the flag asks Hyperopt's worker
to do (keeping large data in memory across trials). ``--poll-interval``,
``--max-consecutive-failures``, ``--reserve-timeout``, ``--workdir``, ``--max-jobs`` and
``--exp-key`` have the same names in both.

>>> import argparse
>>> parser = argparse.ArgumentParser(); add_arguments(parser)
>>> parser.parse_args(["--store", "sqlite:///e.db"]).poll_interval
0.5
>>> mongo_store_url("db.example.org/hyperopt"), mongo_store_url("mongo://h:27018/exp")
('mongo://db.example.org:27017/hyperopt/jobs', 'mongo://h:27018/exp/jobs')
"""

from __future__ import annotations

import argparse
import logging
import os

from ..stores import DEFAULT_CONNECT_TIMEOUT, StoreError
from .exits import EXIT_UNAVAILABLE, EXIT_USAGE, HELP
from .loop import Worker

logger = logging.getLogger("hpo.worker")

#: Environment variable holding the store url when ``--store`` is not given.
STORE_URL_ENV = "HPO_STORE_URL"


def mongo_store_url(mongo):
    """The store url of Hyperopt's ``--mongo=host[:port]/db`` (its jobs live in ``db.jobs``).

    >>> mongo_store_url("localhost")
    Traceback (most recent call last):
    ...
    ValueError: --mongo must be host[:port]/db, got 'localhost'
    """
    rest = mongo.split("://", 1)[1] if "://" in mongo else mongo
    host, _, db = rest.partition("/")
    if not host or not db or "/" in db.rstrip("/"):
        raise ValueError(f"--mongo must be host[:port]/db, got {mongo!r}")
    if ":" not in host.rsplit("@", 1)[-1]:
        host += ":27017"
    return f"mongo://{host}/{db.rstrip('/')}/jobs"


def add_arguments(parser):
    """The options of ``hpo-worker`` / ``hpo worker``."""
    parser.add_argument("--store", default=None,
                        help="store url: sqlite:///exp.db or "
                             "mongo://[user:pass@]host:port/db[/collection][?option=value]; "
                             f"default: ${STORE_URL_ENV}")
    parser.add_argument("--mongo", default=None, metavar="HOST[:PORT]/DB",
                        help="Hyperopt's form of --store mongo://HOST:PORT/DB/jobs")
    parser.add_argument("--exp-key", default=None, help="serve only this experiment (default: any)")
    parser.add_argument("--workdir", default=None, help="run each trial in WORKDIR/<exp_key>/<tid>")
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many trials")
    parser.add_argument("--poll-interval", type=float, default=0.5,
                        help="longest wait between polls when idle (polls start at 5 ms and "
                             "back off to this); default 0.5 s")
    parser.add_argument("--reserve-timeout", type=float, default=None,
                        help="exit after idling this many seconds (default: never)")
    parser.add_argument("--last-job-timeout", type=float, default=None, metavar="T",
                        help="reserve no job once T seconds have passed since the worker "
                             "started (a deadline; a running trial finishes), as Hyperopt's "
                             "flag; default: never")
    parser.add_argument("-N", "--no-subprocesses", action="store_true",
                        help="Hyperopt's flag, accepted for compatibility: objectives always "
                             "run in the worker's own process")
    parser.add_argument("--heartbeat", type=float, default=5.0,
                        help="seconds between heartbeats of a running trial (default 5)")
    parser.add_argument("--max-consecutive-failures", type=int, default=4,
                        help="exit after this many failed trials in a row; 0: never "
                             "(default 4)")
    parser.add_argument("--term-grace", type=float, default=20.0,
                        help="on SIGTERM, let the running trial finish for this long, then "
                             "requeue it (default 20 s)")
    parser.add_argument("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT,
                        help="give up reaching the database server after this many seconds "
                             f"(default {DEFAULT_CONNECT_TIMEOUT:g})")
    parser.add_argument("--worker-id", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    if parser.epilog is None:
        parser.epilog = HELP


def run(args):
    """Run a worker from parsed ``hpo-worker`` arguments; returns the exit status."""
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.mongo is not None:
        if args.store is not None:
            logger.error("hpo-worker: pass either --store or --mongo, not both (got --store %s "
                         "and --mongo %s)", args.store, args.mongo)
            return EXIT_USAGE
        try:
            args.store = mongo_store_url(args.mongo)
        except ValueError as e:
            logger.error("hpo-worker: %s", e)
            return EXIT_USAGE
    if args.last_job_timeout is not None and args.last_job_timeout < 0:
        logger.error("hpo-worker: --last-job-timeout must be seconds >= 0, got %r",
                     args.last_job_timeout)
        return EXIT_USAGE
    url = args.store or os.environ.get(STORE_URL_ENV)
    if not url:
        logger.error("hpo-worker: no store: pass --store URL or set %s", STORE_URL_ENV)
        return EXIT_USAGE
    failures = args.max_consecutive_failures
    try:
        worker = Worker(url, exp_key=args.exp_key, workdir=args.workdir,
                        max_jobs=args.max_jobs, poll_interval=args.poll_interval,
                        reserve_timeout=args.reserve_timeout,
                        last_job_timeout=args.last_job_timeout, heartbeat=args.heartbeat,
                        max_consecutive_failures=None if failures == 0 else failures,
                        term_grace=args.term_grace, worker_id=args.worker_id,
                        connect_timeout=args.connect_timeout)
    except ValueError as e:  # bad options, malformed url (StoreURLError is a ValueError too)
        logger.error("hpo-worker: %s", e)
        return EXIT_USAGE
    except StoreError as e:  # unreachable, credentials refused, not an hpo store, ...
        logger.error("hpo-worker: %s", e)
        return EXIT_UNAVAILABLE
    worker.install_signal_handlers()
    logger.info("worker %s serving %s (exp_key %r)", worker.worker_id,
                worker.store.url.redacted(), args.exp_key)
    try:
        return worker.run()
    except StoreError as e:  # the store stayed unreachable beyond its retries
        logger.error("hpo-worker: %s", e)
        return EXIT_UNAVAILABLE
    finally:
        worker.store.close()


def main(argv=None):
    """``hpo-worker`` with ``argv`` (default: the command line); returns the exit status."""
    parser = argparse.ArgumentParser(prog="hpo-worker",
                                     description="run trials from a shared store")
    add_arguments(parser)
    return run(parser.parse_args(argv))
