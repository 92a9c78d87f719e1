"""The job-store protocol shared by every store, its errors, and helpers the stores share.

A *job store* holds the trial documents of one or more experiments (told apart by
``exp_key``), experiment attachments (including the pickled domain) and the registry of live
workers. Drivers insert NEW trials; workers reserve one atomically (NEW -> RUNNING with an
owner and an attempt number), heartbeat while it runs and finish it with a result or an
error. A write from a worker that no longer owns the attempt is refused, so a result is
recorded exactly once. Readers follow changes incrementally with :meth:`JobStore.changes_since`.

>>> from hpo.stores import open_store
>>> import tempfile, os
>>> store = open_store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "exp.db"))
>>> store.count_by_state("exp")
{0: 0, 1: 0, 2: 0, 3: 0, 4: 0}
>>> store.close()
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import time
import urllib.parse

import numpy as np

from ..base import JOB_STATES
from ..exceptions import HpoError

#: How long a store keeps retrying an operation while the database is unreachable or locked.
DEFAULT_RETRY_FOR = 60.0
#: How long opening a store keeps trying to reach the database before giving up.
DEFAULT_CONNECT_TIMEOUT = 10.0


class StoreError(HpoError):
    """Something went wrong with a job store."""


class StoreURLError(StoreError, ValueError):
    """A store URL is malformed or names an unknown scheme."""


class StoreUnavailable(StoreError, ConnectionError):
    """The database could not be reached (or stayed locked) within the retry budget."""


class StoreAuthError(StoreError, PermissionError):
    """The database refused the credentials given in the store URL."""


class NotAnHpoStore(StoreError):
    """The database exists but does not hold an hpo job store."""


class DomainMismatch(StoreError, ValueError):
    """The experiment already stores a domain whose search space differs from this one."""


class PayloadVerificationError(StoreError):
    """A stored domain or attachment failed its content-hash or signature check."""


class DuplicateTrialId(StoreError):
    """Another driver inserted a trial with the same (exp_key, tid)."""


class WorkerTrialError(StoreError, RuntimeError):
    """The objective raised in a worker (``fmin(..., catch_eval_exceptions=False)``)."""


class InvalidExpKey(StoreError, ValueError):
    """An ``exp_key`` is neither None nor a non-empty string."""


class StoreOpenError(StoreError, OSError):
    """The store's file cannot be opened or created (missing directory, permission denied)."""


class StoreReadOnly(StoreError, PermissionError):
    """The store can be read but not written (a read-only file or directory)."""


class StoreFull(StoreError, OSError):
    """The database or the disk under it is full; nothing of the failed write was kept."""


class ResultTooLarge(StoreError, ValueError):
    """A result (or checkpoint) is too large for one document of the store; nothing was written.

    A worker records the trial as ERROR with a small result instead.
    """


def validate_exp_key(exp_key):
    """``exp_key`` if it is None or a non-empty string, else :class:`InvalidExpKey`.

    Experiments are told apart by their key in every store; a number, an empty string or any
    other object would be stored differently by SQLite and MongoDB (5 and "5", None and ""
    would collide), so they are refused.

    >>> validate_exp_key("exp1")
    'exp1'
    >>> validate_exp_key(5)
    Traceback (most recent call last):
    ...
    hpo.stores.base.InvalidExpKey: exp_key must be None or a non-empty string, got 5 of type int
    """
    if exp_key is None or (type(exp_key) is str and exp_key):
        return exp_key
    raise InvalidExpKey(
        f"exp_key must be None or a non-empty string, got {exp_key!r} of type "
        f"{type(exp_key).__name__}"
    )


@dataclasses.dataclass(frozen=True)
class StoreURL:
    """A parsed store URL; see :func:`hpo.stores.parse_store_url`."""

    scheme: str
    path: str | None = None  # sqlite
    host: str | None = None  # mongo
    port: int | None = None
    database: str | None = None
    collection: str | None = None
    username: str | None = None
    password: str | None = None
    options: tuple = ()

    def redacted(self):
        """The URL with the password hidden, for messages and logs."""
        if self.scheme == "memory":
            return "memory://"
        if self.scheme == "sqlite":
            return f"sqlite:///{self.path}"
        auth = f"{self.username}:***@" if self.username else ""
        tail = f"/{self.collection}" if self.collection else ""
        return f"mongo://{auth}{self.host}:{self.port}/{self.database}{tail}"


def parse_store_url(url):
    """Split a store URL into its parts; a malformed URL raises :class:`StoreURLError`.

    ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (SQLAlchemy's form);
    ``mongo://[user:pass@]host[:port]/db[/collection][?option=value]`` (Hyperopt's form;
    ``mongodb://`` is accepted too; the collection defaults to ``jobs``); ``memory://`` (a
    new, empty store in this process).

    >>> parse_store_url("mongo://u:p@localhost:1234/hpo/jobs").collection
    'jobs'
    >>> parse_store_url("sqlite:///exp.db").path
    'exp.db'
    >>> parse_store_url("sqlite:///:memory:")
    Traceback (most recent call last):
    ...
    hpo.stores.base.StoreURLError: store url 'sqlite:///:memory:': an in-memory SQLite database lives in one connection, so workers in other processes cannot share it; use 'memory://' for a store in this process or 'sqlite:///path/to/exp.db' for a file
    """
    if not isinstance(url, str):
        raise StoreURLError(f"store url must be a string, got {url!r} of type {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreURLError(
            f"store url {url!r} has no scheme; use 'sqlite:///path/to/exp.db' or "
            f"'mongo://host:27017/db/jobs'"
        )
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise StoreURLError(
                f"store url {url!r}: a SQLite url is 'sqlite:///relative.db' or "
                f"'sqlite:////absolute/path.db' (three slashes, then the file path)"
            )
        path = rest[1:]
        if path == ":memory:" or path.split("?", 1)[0] in (":memory:", ""):
            raise StoreURLError(
                f"store url {url!r}: an in-memory SQLite database lives in one connection, so "
                f"workers in other processes cannot share it; use 'memory://' for a store in "
                f"this process or 'sqlite:///path/to/exp.db' for a file"
            )
        return StoreURL("sqlite", path=path)
    if scheme in ("mongo", "mongodb"):
        return _parse_mongo(url)
    if scheme == "memory":
        if rest:
            raise StoreURLError(
                f"store url {url!r}: a memory store has no name or path; use 'memory://' (each "
                f"open_store('memory://') is a new, empty store of this process)"
            )
        return StoreURL("memory")
    raise StoreURLError(
        f"store url {url!r} has unknown scheme {scheme!r}; known schemes: 'sqlite', 'mongo', "
        f"'memory'"
    )


def _parse_mongo(url):
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise StoreURLError(f"store url {_redact(url)!r} is malformed: {e}") from None
    if not parts.hostname:
        raise StoreURLError(f"store url {_redact(url)!r} names no host; use mongo://host:27017/db")
    segments = [s for s in parts.path.split("/")]
    segments = segments[1:] if segments and segments[0] == "" else segments
    if not segments or not segments[0]:
        raise StoreURLError(
            f"store url {_redact(url)!r} names no database; use mongo://host:27017/db[/collection]"
        )
    if len(segments) > 2 or any(not s for s in segments):
        raise StoreURLError(
            f"store url {_redact(url)!r} has path {parts.path!r}; expected /db or /db/collection"
        )
    options = tuple(urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    return StoreURL(
        "mongo", host=parts.hostname, port=port or 27017, database=segments[0],
        collection=segments[1] if len(segments) == 2 else "jobs",
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password is not None else None,
        options=options,
    )


def _redact(url):
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        auth, _, host = rest.partition("@")
        return f"{scheme}{sep}{auth.split(':', 1)[0]}:***@{host}"
    return url


# -- values stored in documents ---------------------------------------------------------------

def to_plain(value, what="value"):
    """``value`` with numpy scalars and arrays turned into Python numbers and lists.

    Trial documents hold plain JSON/BSON types only; anything else raises ``TypeError`` naming
    ``what``.

    >>> to_plain({"loss": np.float32(0.5), "v": np.arange(2)})
    {'loss': 0.5, 'v': [0, 1]}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime.datetime, bytes)):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{what}: dict key {k!r} is not a string; documents need string keys")
            out[k] = to_plain(v, what)
        return out
    if isinstance(value, (list, tuple)):
        return [to_plain(v, what) for v in value]
    raise TypeError(
        f"{what} holds {value!r} of type {type(value).__name__}, which a trial document cannot "
        f"store; use numbers, strings, lists and dicts (or attachments for binary data)"
    )


def _json_default(value):
    if isinstance(value, datetime.datetime):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        raise TypeError("bytes in a trial document; store binary data as an attachment")
    return to_plain(value)


def dumps(value):
    """JSON for SQLite documents (``Infinity`` allowed, numpy converted)."""
    return json.dumps(value, default=_json_default, allow_nan=True, separators=(",", ":"))


def _json_hook(d):
    if len(d) == 1 and "$date" in d:
        return datetime.datetime.fromisoformat(d["$date"])
    return d


def loads(text):
    return json.loads(text, object_hook=_json_hook)


def epoch_to_datetime(seconds):
    """Naive UTC datetime, rounded to milliseconds like :func:`hpo.base.utcnow`."""
    if seconds is None:
        return None
    ms = int(round(seconds * 1000))
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)


def space_fingerprint(compiled):
    """A stable hash of a compiled space's parameter table (labels, kinds, bounds, conditions).

    Two spaces with the same fingerprint propose the same kind of configurations; constant
    option values of a choice are not part of it.

    >>> from hpo import hp, compile_space
    >>> a = space_fingerprint(compile_space(hp.uniform("x", 0, 1)))
    >>> a == space_fingerprint(compile_space(hp.uniform("x", 0, 2)))
    False
    """
    rows = []
    for p in compiled.params:
        probabilities = None if p.probabilities is None else [float(x) for x in p.probabilities]
        rows.append([p.label, p.kind, repr(p.conditions), _num(p.low), _num(p.high), _num(p.mu),
                     _num(p.sigma), _num(p.q), p.n_options, probabilities,
                     None if p.prior is None else type(p.prior).__qualname__])
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def check_trial_domains(record, docs, exp_key, where):
    """Refuse trials of a search space other than the experiment's current one.

    ``record`` is the experiment record read in the same atomic step as the insert of ``docs``
    (see :func:`hpo.stores.domain.store_domain`): its ``domains`` map every domain hash the
    experiment has seen to the fingerprint of its space. A document whose ``domain_sha256`` maps
    to another fingerprint than the record's current one was suggested for a space that another
    driver replaced meanwhile, and raises :class:`DomainMismatch`. Returns True when the record
    must now be marked as holding trials (``used``), after which its space cannot change.

    >>> record = {"space_fingerprint": "a", "domains": {"s1": "a", "s2": "b"}, "used": False}
    >>> check_trial_domains(record, [{"domain_sha256": "s1"}], "e", "memory://")
    True
    >>> check_trial_domains(record, [{"domain_sha256": "s2"}], "e", "memory://")
    Traceback (most recent call last):
    ...
    hpo.stores.base.DomainMismatch: exp_key 'e' in memory://: trials of domain s2... were suggested for a search space other than the experiment's current one (another driver stored a different space meanwhile); use a new exp_key
    """
    if record is None:
        return False
    current = record.get("space_fingerprint")
    domains = record.get("domains") or {}
    for sha in {doc.get("domain_sha256") for doc in docs} - {None}:
        fingerprint = domains.get(sha)
        if fingerprint is not None and fingerprint != current:
            raise DomainMismatch(
                f"exp_key {exp_key!r} in {where}: trials of domain {str(sha)[:12]}... were "
                f"suggested for a search space other than the experiment's current one (another "
                f"driver stored a different space meanwhile); use a new exp_key"
            )
    return bool(docs) and not record.get("used")


def _num(x):
    if x is None:
        return None
    x = float(x)
    return repr(x) if math.isinf(x) else x


def empty_counts():
    return {state: 0 for state in JOB_STATES}


class Backoff:
    """Sleep intervals that start short and double up to a maximum; reset on activity.

    >>> b = Backoff(0.01, 0.04); [b.next() for _ in range(4)]
    [0.01, 0.02, 0.04, 0.04]
    """

    def __init__(self, start, maximum):
        self.start, self.maximum = float(start), float(maximum)
        self.current = min(self.start, self.maximum)

    def next(self):
        value = self.current
        self.current = min(self.current * 2, self.maximum)
        return value

    def reset(self):
        self.current = min(self.start, self.maximum)

    def shrink(self, factor=4.0):
        """After activity: poll sooner, but not at once at the shortest interval."""
        self.current = max(min(self.start, self.maximum), self.current / factor)


def retry_call(fn, transient, retry_for, what, on_retry=None):
    """Call ``fn()``; on an exception accepted by ``transient(e)`` retry with backoff.

    Gives up after ``retry_for`` seconds with :class:`StoreUnavailable` naming ``what``.
    """
    deadline = time.monotonic() + retry_for
    backoff = Backoff(0.05, 2.0)
    attempts = 0
    while True:
        attempts += 1
        try:
            return fn()
        except Exception as e:
            if not transient(e):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreUnavailable(
                    f"{what}: the database stayed unavailable for {retry_for:g} s "
                    f"({attempts} attempts); last error: {type(e).__name__}: {e}"
                ) from e
            if on_retry is not None:
                on_retry(e)
            time.sleep(min(backoff.next(), remaining))


class JobStore:
    """The protocol every store implements (see the module docstring for the life cycle).

    Documents returned by a store have Hyperopt's layout plus ``attempt`` (how many times the
    trial was reserved), ``heartbeat`` and ``domain_sha256``. ``exp_key`` ``None`` is an
    experiment of its own; a worker given no exp_key reserves from every experiment. Every
    method that takes an ``exp_key`` refuses anything but None or a non-empty string
    (:func:`validate_exp_key`).
    """

    url: StoreURL

    # trials
    def insert_trials(self, docs):
        """Insert NEW documents; a (exp_key, tid) that exists raises :class:`DuplicateTrialId`.

        Atomically with the insert, documents of a domain whose space is not the experiment's
        current one raise :class:`DomainMismatch` (see :func:`check_trial_domains`)."""
        raise NotImplementedError

    def max_tid(self, exp_key):
        """The largest tid of the experiment, -1 when it has none."""
        raise NotImplementedError

    def reserve(self, owner, exp_key=None):
        """Atomically turn one NEW trial into RUNNING for ``owner``; None when there is none."""
        raise NotImplementedError

    def heartbeat(self, exp_key, tid, owner, attempt):
        """Refresh the heartbeat of a RUNNING trial; False when ``owner`` lost it."""
        raise NotImplementedError

    def checkpoint(self, exp_key, tid, owner, attempt, result):
        """Store a partial result of a RUNNING trial; False when ``owner`` lost it."""
        raise NotImplementedError

    def finish(self, exp_key, tid, owner, attempt, state, result, misc_update=None):
        """RUNNING -> DONE/ERROR with ``result``; False (nothing written) when not the owner."""
        raise NotImplementedError

    def release(self, exp_key, tid, owner, attempt):
        """RUNNING -> NEW (a worker stopping before the trial finished); False if not owner."""
        raise NotImplementedError

    def requeue_stale(self, exp_key, stale_after, max_attempts, owners=None):
        """Requeue RUNNING trials whose heartbeat is older than ``stale_after`` seconds (or
        whose owner is in ``owners``: workers known to be dead); those that already had
        ``max_attempts`` attempts become ERROR. Returns ``(n_requeued, n_errored)``."""
        raise NotImplementedError

    def cancel_new(self, exp_key, tids):
        """NEW -> CANCEL for the given tids (trials a stopped driver will not need)."""
        raise NotImplementedError

    def changes_since(self, exp_key, token):
        """``(documents changed after token, new token)``; token ``None`` reads everything."""
        raise NotImplementedError

    def get_trials(self, exp_key, tids):
        """The current documents of the given tids."""
        raise NotImplementedError

    def count_by_state(self, exp_key):
        """``{state: number of trials}`` for every job state."""
        raise NotImplementedError

    def delete_experiment(self, exp_key):
        """Delete the trials, attachments and domain of one experiment."""
        raise NotImplementedError

    # attachments and experiment records
    def get_attachment(self, exp_key, name):
        """The bytes stored under ``name``, or None."""
        raise NotImplementedError

    def has_attachment(self, exp_key, name):
        """Whether ``name`` is stored (without reading its bytes)."""
        raise NotImplementedError

    def set_attachment(self, exp_key, name, data):
        """Store ``data`` (bytes) under ``name``, replacing any previous value atomically."""
        raise NotImplementedError

    def delete_attachment(self, exp_key, name):
        """Delete ``name``; returns 1 if it existed, else 0."""
        raise NotImplementedError

    def attachment_names(self, exp_key):
        """The sorted names of the experiment's attachments."""
        raise NotImplementedError

    def get_experiment(self, exp_key):
        """The experiment record (domain hash, space fingerprint, signature, ``domains``,
        ``used``) with the store's ``revision`` of it, or None."""
        raise NotImplementedError

    def set_experiment(self, exp_key, info):
        """Replace the experiment record unconditionally (its revision goes up by one)."""
        raise NotImplementedError

    def swap_experiment(self, exp_key, expected, info):
        """Replace the record by ``info`` only if it is still ``expected`` (the record read
        before, or None for none); True when replaced. Compares revisions: any change in
        between, including an insert that marked the record ``used``, makes it fail."""
        raise NotImplementedError

    # workers
    def register_worker(self, worker_id, info):
        """Create or refresh a worker's registration (``info``: host, pid, exp_key, ...)."""
        raise NotImplementedError

    def unregister_worker(self, worker_id):
        raise NotImplementedError

    def live_workers(self, exp_key, within):
        """Registrations seen in the last ``within`` seconds serving ``exp_key`` (or any)."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
