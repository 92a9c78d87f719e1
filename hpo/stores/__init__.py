"""Where trials live when they are shared: the job-store protocol, SQLite and MongoDB stores.

``open_store(url)`` picks the store from the URL's scheme:

- ``sqlite:///exp.db`` (relative) or ``sqlite:////abs/exp.db``: one file, many processes on
  one machine, no server (:class:`~hpo.stores.sqlite.SQLiteStore`);
- ``mongo://[user:pass@]host:port/db[/collection]``: many machines through MongoDB
  (:class:`~hpo.stores.mongo.MongoStore`, imported -- with pymongo -- only when used);
- ``memory://``: a new, empty store in this process (:class:`~hpo.stores.memory.MemoryStore`);
  every ``open_store("memory://")`` is another store, so threads share one by passing the
  store object; worker processes cannot reach it.

Every store implements :class:`JobStore`; :func:`validate_exp_key` says which experiment keys
they accept.

>>> import os, tempfile
>>> store = open_store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "exp.db"))
>>> type(store).__name__
'SQLiteStore'
>>> store.close()
"""

from __future__ import annotations

from .base import (  # noqa: F401  (re-exported)
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRY_FOR,
    DomainMismatch,
    DuplicateTrialId,
    InvalidExpKey,
    JobStore,
    NotAnHpoStore,
    PayloadVerificationError,
    ResultTooLarge,
    StoreAuthError,
    StoreError,
    StoreFull,
    StoreOpenError,
    StoreReadOnly,
    StoreUnavailable,
    StoreURL,
    StoreURLError,
    WorkerTrialError,
    parse_store_url,
    validate_exp_key,
)


def open_store(url, connect_timeout=DEFAULT_CONNECT_TIMEOUT, retry_for=DEFAULT_RETRY_FOR):
    """Open the job store named by ``url``.

    ``connect_timeout``: seconds to keep trying to reach a database server before raising
    :class:`StoreUnavailable`; ``retry_for``: seconds an operation keeps retrying while the
    database is unavailable (restarting, locked) before raising.

    >>> type(open_store("memory://")).__name__
    'MemoryStore'
    >>> open_store("redis://localhost/0")
    Traceback (most recent call last):
    ...
    hpo.stores.base.StoreURLError: store url 'redis://localhost/0' has unknown scheme 'redis'; known schemes: 'sqlite', 'mongo', 'memory'
    """
    if isinstance(url, JobStore):
        return url
    parsed = parse_store_url(url)
    if parsed.scheme == "memory":
        from .memory import MemoryStore

        return MemoryStore()
    if parsed.scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(parsed.path, retry_for=retry_for)
    from .mongo import MongoStore

    return MongoStore(parsed, connect_timeout=connect_timeout, retry_for=retry_for)


def __getattr__(name):
    if name in ("StoreTrials", "MongoTrials"):
        from . import trials

        return getattr(trials, name)
    raise AttributeError(f"module 'hpo.stores' has no attribute {name!r}")
