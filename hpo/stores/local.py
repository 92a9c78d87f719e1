"""Moved to :mod:`hpo.worker.pool`; kept while :mod:`hpo.stores.driver` imports it from here."""

from ..worker.pool import LocalWorkers  # noqa: F401
