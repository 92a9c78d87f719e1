"""The embedded job store: one SQLite file in WAL mode, safe for many processes on one machine.

Every write is one short ``BEGIN IMMEDIATE`` transaction, so a reservation (find the oldest
NEW trial, mark it RUNNING for its owner) is atomic across processes. Each write also bumps a
store-wide version counter and stamps it on the rows it touches, which makes
:meth:`SQLiteStore.changes_since` an indexed range query: readers only ever read the rows that
changed since their last look.

The file (and SQLite's ``-wal`` and ``-shm`` files next to it, which SQLite creates with the
file's permissions) is created readable and writable by its owner only: it holds the pickled
objective, which workers run. Errors that retrying cannot fix -- a missing directory, a
read-only file, a full disk -- raise :class:`~hpo.stores.StoreOpenError`,
:class:`~hpo.stores.StoreReadOnly` and :class:`~hpo.stores.StoreFull` naming the file.

>>> import os, tempfile
>>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "exp.db"))
>>> store.reserve("worker-1", exp_key="exp") is None
True
>>> store.close()
"""

from __future__ import annotations

import errno
import math
import os
import sqlite3
import threading
import time

from ..base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
)
from .base import (
    DEFAULT_RETRY_FOR,
    DuplicateTrialId,
    JobStore,
    NotAnHpoStore,
    StoreError,
    StoreFull,
    StoreOpenError,
    StoreReadOnly,
    StoreURL,
    StoreURLError,
    check_trial_domains,
    dumps,
    empty_counts,
    epoch_to_datetime,
    loads,
    retry_call,
    validate_exp_key,
)

FORMAT = "hpo-job-store"
SCHEMA_VERSION = "1"
#: The oldest SQLite this store runs on: reservations use ``UPDATE ... RETURNING`` (3.35).
MIN_SQLITE_VERSION = (3, 35, 0)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hpo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hpo_version (id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    exp_key TEXT NOT NULL, tid INTEGER NOT NULL, state INTEGER NOT NULL, owner TEXT,
    attempt INTEGER NOT NULL DEFAULT 0, heartbeat REAL, book_time REAL, refresh_time REAL,
    version INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (exp_key, tid));
CREATE INDEX IF NOT EXISTS trials_exp_state ON trials (exp_key, state, tid);
CREATE INDEX IF NOT EXISTS trials_state ON trials (state);
CREATE INDEX IF NOT EXISTS trials_exp_version ON trials (exp_key, version);
CREATE TABLE IF NOT EXISTS attachments (
    exp_key TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (exp_key, name));
CREATE TABLE IF NOT EXISTS experiments (exp_key TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY, exp_key TEXT, info TEXT NOT NULL, last_seen REAL NOT NULL);
"""

# Held while this process creates a store file (see SQLiteStore._create_private).
_CREATING = threading.Lock()

_COLUMNS = "exp_key, tid, state, owner, attempt, heartbeat, book_time, refresh_time, version, doc"


class SQLiteTooOld(StoreError, RuntimeError):
    """The SQLite library Python was built with is older than :data:`MIN_SQLITE_VERSION`."""


def check_sqlite_version(version=None):
    """Raise :class:`SQLiteTooOld` unless SQLite ``version`` (default: the one in use) >= 3.35.

    >>> check_sqlite_version((3, 31, 1))
    Traceback (most recent call last):
    ...
    hpo.stores.sqlite.SQLiteTooOld: this Python uses SQLite 3.31.1, but hpo's SQLite store needs 3.35 or newer (for UPDATE ... RETURNING); use a Python built with a newer SQLite (python.org, conda and recent distributions ship one) or another store (memory://, mongo://)
    """
    version = tuple(sqlite3.sqlite_version_info if version is None else version)
    if version < MIN_SQLITE_VERSION:
        raise SQLiteTooOld(
            f"this Python uses SQLite {'.'.join(map(str, version))}, but hpo's SQLite store "
            f"needs {'.'.join(map(str, MIN_SQLITE_VERSION[:2]))} or newer (for UPDATE ... "
            f"RETURNING); use a Python built with a newer SQLite (python.org, conda and recent "
            f"distributions ship one) or another store (memory://, mongo://)"
        )


def _key(exp_key):
    # None is stored as '' (a primary key column cannot hold NULL); '' itself is refused.
    return "" if validate_exp_key(exp_key) is None else exp_key


def _transient(e):
    return isinstance(e, sqlite3.OperationalError) and (
        "locked" in str(e) or "busy" in str(e) or "disk I/O" in str(e)
    )


class SQLiteStore(JobStore):
    """A job store in the SQLite file ``path`` (created, owner-only, if missing).

    ``retry_for``: seconds to keep retrying while the file is locked or unreadable before
    raising :class:`~hpo.stores.StoreUnavailable`. ``max_size``: a cap in bytes on the file,
    enforced on this connection's writes (``PRAGMA max_page_count``); a write beyond it raises
    :class:`~hpo.stores.StoreFull`, like a full disk does.
    """

    def __init__(self, path, retry_for=DEFAULT_RETRY_FOR, busy_timeout=5.0, max_size=None):
        check_sqlite_version()
        self.path = os.fspath(path)
        self.url = StoreURL("sqlite", path=self.path)
        self.retry_for = float(retry_for)
        self._lock = threading.RLock()
        self._conn = None
        if self.path in ("", ":memory:"):
            raise StoreURLError(
                f"SQLite path {self.path!r}: an in-memory database cannot be shared with worker "
                f"processes; give a file path (or use the store 'memory://')")
        if max_size is not None and not (isinstance(max_size, int) and max_size > 0):
            raise ValueError(f"max_size must be a number of bytes > 0 or None, got {max_size!r}")
        if os.path.isdir(self.path):
            raise NotAnHpoStore(f"store url {self.url.redacted()!r}: {self.path!r} is a directory")
        self._create_private()
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
            self._retry(self._setup, "opening the store")
            if max_size is not None:
                page = self._conn.execute("PRAGMA page_size").fetchone()[0]
                self._conn.execute(f"PRAGMA max_page_count = {max(1, math.ceil(max_size / page))}")
        except sqlite3.DatabaseError as e:
            self.close()
            if _transient(e):
                raise
            raise NotAnHpoStore(
                f"store url {self.url.redacted()!r}: {self.path!r} is not an hpo job store "
                f"({type(e).__name__}: {e}); give the path of a new file or of an hpo store"
            ) from e
        except BaseException:
            self.close()
            raise

    # -- plumbing -----------------------------------------------------------------------------

    def _create_private(self):
        """Create the file with mode 0600 before SQLite does (SQLite would use 0644).

        This also tells a missing directory, a permission problem and a read-only file apart,
        with a message for each, before SQLite reports them all as "unable to open database
        file". An existing file is never opened here: closing any descriptor of a file drops
        every POSIX lock this process holds on it, including those of SQLite connections
        already open on it, and SQLite relies on them (a connection that believes it is the
        last one checkpoints and deletes the -wal file under the others).
        """
        where = f"store url {self.url.redacted()!r}"
        parent = os.path.dirname(os.path.abspath(self.path))
        if os.path.exists(self.path):
            if not os.access(self.path, os.R_OK):
                raise StoreOpenError(
                    f"{where}: permission denied reading {self.path!r}; this user must be able "
                    f"to read and write it")
            if not os.access(self.path, os.W_OK):
                raise StoreReadOnly(
                    f"{where}: {self.path!r} can be read but not written; workers and drivers "
                    f"write to the store, so make it writable or copy it to a writable place")
            return
        # Serialized within the process: no connection of this process can have opened the
        # file between its creation and the close of this descriptor.
        with _CREATING:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return  # another process created it meanwhile
            except FileNotFoundError:
                raise StoreOpenError(
                    f"{where}: directory {parent!r} does not exist; create it first") from None
            except OSError as e:
                if e.errno == errno.EROFS:
                    raise StoreReadOnly(f"{where}: {parent!r} is on a read-only file system") from e
                if e.errno in (errno.EACCES, errno.EPERM):
                    raise StoreOpenError(
                        f"{where}: permission denied creating {self.path!r} ({e.strerror}); this "
                        f"user must be able to create and write files in {parent!r}") from e
                if e.errno == errno.ENOSPC:
                    raise StoreFull(f"{where}: the disk holding {parent!r} is full") from e
                raise StoreOpenError(f"{where}: cannot create {self.path!r}: {e}") from e
            os.close(fd)

    def _mapped(self, e, what):
        """The StoreError that a non-transient SQLite error means, or None."""
        where = f"store url {self.url.redacted()!r} ({what})"
        name = getattr(e, "sqlite_errorname", "") or ""
        text = str(e)
        if name == "SQLITE_FULL" or "database or disk is full" in text:
            return StoreFull(
                f"{where}: the database or the disk holding {self.path!r} is full ({text}); the "
                f"write was rolled back. Free disk space (or raise max_size) and retry")
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return StoreReadOnly(
                f"{where}: {self.path!r} can be read but not written ({text}); make the file "
                f"and its directory writable (SQLite writes {self.path}-wal and -shm next to it)")
        if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
            return StoreOpenError(
                f"{where}: SQLite cannot open {self.path!r} or its -wal/-shm files ({text}); "
                f"check that its directory exists and that this user may create files in it")
        return None

    def _retry(self, fn, what):
        def locked():
            with self._lock:
                if self._conn is None:
                    raise StoreError(f"store url {self.url.redacted()!r}: the store was closed")
                try:
                    return fn()
                except sqlite3.OperationalError as e:
                    mapped = None if _transient(e) else self._mapped(e, what)
                    if mapped is None:
                        raise
                    raise mapped from e
        return retry_call(locked, _transient, self.retry_for, f"{self.url.redacted()}: {what}")

    def _setup(self):
        c = self._conn
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "hpo_meta" not in tables:
            raise NotAnHpoStore(
                f"store url {self.url.redacted()!r}: {self.path!r} is a SQLite database with "
                f"tables {sorted(tables)[:5]} but not an hpo job store; use another file"
            )
        if "hpo_meta" in tables:
            self._check_format()
        else:
            c.execute("BEGIN IMMEDIATE")
            try:
                tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not tables:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            c.execute(statement)
                    c.execute("INSERT INTO hpo_meta VALUES ('format', ?), ('schema', ?)",
                              (FORMAT, SCHEMA_VERSION))
                    c.execute("INSERT INTO hpo_version VALUES (0, 0)")
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            self._check_format()
        if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")

    def _check_format(self):
        meta = dict(self._conn.execute("SELECT key, value FROM hpo_meta"))
        if meta.get("format") != FORMAT:
            raise NotAnHpoStore(
                f"store url {self.url.redacted()!r}: {self.path!r} has an hpo_meta table but "
                f"format {meta.get('format')!r}, not {FORMAT!r}"
            )
        if meta.get("schema") != SCHEMA_VERSION:
            raise NotAnHpoStore(
                f"store url {self.url.redacted()!r}: schema version {meta.get('schema')!r} is "
                f"not supported by this hpo (expects {SCHEMA_VERSION})"
            )

    def _write(self, fn, what):
        """Run ``fn(cursor, version)`` in one BEGIN IMMEDIATE transaction with a fresh version."""
        def txn():
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                version = c.execute(
                    "UPDATE hpo_version SET version = version + 1 WHERE id = 0 RETURNING version"
                ).fetchone()[0]
                out = fn(c, version)
                c.execute("COMMIT")
                return out
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        return self._retry(txn, what)

    def _read(self, sql, args, what):
        return self._retry(lambda: self._conn.execute(sql, args).fetchall(), what)

    @staticmethod
    def _doc(row):
        exp_key, tid, state, owner, attempt, heartbeat, book, refresh, version, body = row
        doc = loads(body)
        doc.update(
            exp_key=None if exp_key == "" else exp_key, tid=tid, state=state, owner=owner,
            attempt=attempt, heartbeat=epoch_to_datetime(heartbeat),
            book_time=epoch_to_datetime(book), refresh_time=epoch_to_datetime(refresh),
            version=version,
        )
        return doc

    # -- trials -------------------------------------------------------------------------------

    def insert_trials(self, docs):
        """Insert NEW trial documents (one transaction, with the check of their domain)."""
        rows, by_key = [], {}
        for doc in docs:
            body = {k: doc.get(k) for k in ("spec", "result", "misc", "domain_sha256")}
            key = _key(doc.get("exp_key"))
            rows.append((key, int(doc["tid"]), int(doc["state"]), doc.get("owner"), dumps(body)))
            by_key.setdefault(key, []).append(doc)
        now = time.time()

        def insert(c, version):
            for key, key_docs in by_key.items():
                row = c.execute("SELECT info FROM experiments WHERE exp_key = ?", (key,)).fetchone()
                record = None if row is None else loads(row[0])
                if check_trial_domains(record, key_docs, key_docs[0].get("exp_key"),
                                       self.url.redacted()):
                    record.update(used=True, revision=record.get("revision", 0) + 1)
                    c.execute("UPDATE experiments SET info = ? WHERE exp_key = ?",
                              (dumps(record), key))
            try:
                c.executemany(
                    "INSERT INTO trials (exp_key, tid, state, owner, attempt, refresh_time, "
                    "version, doc) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                    [(k, t, s, o, now, version, b) for k, t, s, o, b in rows])
            except sqlite3.IntegrityError as e:
                raise DuplicateTrialId(f"a trial id of {[r[1] for r in rows]} exists: {e}") from e
            return version
        return self._write(insert, "inserting trials")

    def max_tid(self, exp_key):
        rows = self._read("SELECT MAX(tid) FROM trials WHERE exp_key = ?", (_key(exp_key),),
                          "reading the largest tid")
        return -1 if rows[0][0] is None else rows[0][0]

    def reserve(self, owner, exp_key=None):
        """Reserve the oldest NEW trial (of ``exp_key``, or of any experiment when None)."""
        validate_exp_key(exp_key)
        if exp_key is None:
            probe, args = "SELECT rowid FROM trials WHERE state = ? ORDER BY rowid LIMIT 1", ()
        else:
            probe = ("SELECT rowid FROM trials WHERE exp_key = ? AND state = ? "
                     "ORDER BY tid LIMIT 1")
            args = (_key(exp_key),)
        # A cheap read first: idle workers never take the write lock.
        if not self._read(probe, args + (JOB_STATE_NEW,), "looking for a NEW trial"):
            return None

        def take(c, version):
            found = c.execute(probe, args + (JOB_STATE_NEW,)).fetchone()
            if found is None:
                return None
            now = time.time()
            row = c.execute(
                f"UPDATE trials SET state = ?, owner = ?, attempt = attempt + 1, heartbeat = ?, "
                f"book_time = ?, refresh_time = ?, version = ? WHERE rowid = ? RETURNING {_COLUMNS}",
                (JOB_STATE_RUNNING, owner, now, now, now, version, found[0])).fetchone()
            return self._doc(row)
        return self._write(take, "reserving a trial")

    _OWNED = "exp_key = ? AND tid = ? AND state = ? AND owner = ? AND attempt = ?"

    def heartbeat(self, exp_key, tid, owner, attempt):
        # Heartbeats bump no version: readers following changes do not need them.
        def beat():
            cur = self._conn.execute(
                f"UPDATE trials SET heartbeat = ? WHERE {self._OWNED}",
                (time.time(), _key(exp_key), tid, JOB_STATE_RUNNING, owner, attempt))
            return cur.rowcount == 1
        return self._retry(beat, "sending a heartbeat")

    def _update_owned(self, exp_key, tid, owner, attempt, what, update):
        def write(c, version):
            row = c.execute(f"SELECT doc FROM trials WHERE {self._OWNED}",
                            (_key(exp_key), tid, JOB_STATE_RUNNING, owner, attempt)).fetchone()
            if row is None:
                return False
            body = loads(row[0])
            state = update(body)
            c.execute(
                f"UPDATE trials SET doc = ?, state = ?, refresh_time = ?, version = ?, "
                f"owner = CASE WHEN ? = {JOB_STATE_NEW} THEN NULL ELSE owner END "
                f"WHERE {self._OWNED}",
                (dumps(body), state, time.time(), version, state,
                 _key(exp_key), tid, JOB_STATE_RUNNING, owner, attempt))
            return True
        return self._write(write, what)

    def checkpoint(self, exp_key, tid, owner, attempt, result):
        def update(body):
            body["result"] = result
            return JOB_STATE_RUNNING
        return self._update_owned(exp_key, tid, owner, attempt, "checkpointing a trial", update)

    def finish(self, exp_key, tid, owner, attempt, state, result, misc_update=None):
        if state not in (JOB_STATE_DONE, JOB_STATE_ERROR):
            raise ValueError(f"finish: state must be DONE or ERROR, got {state!r}")
        dumps(result)  # a result that cannot be stored fails here, before the transaction

        def update(body):
            body["result"] = result
            if misc_update:
                body["misc"].update(misc_update)
            return state
        return self._update_owned(exp_key, tid, owner, attempt, "finishing a trial", update)

    def release(self, exp_key, tid, owner, attempt):
        return self._update_owned(exp_key, tid, owner, attempt, "releasing a trial",
                                  lambda body: JOB_STATE_NEW)

    def requeue_stale(self, exp_key, stale_after, max_attempts, owners=None):
        owners = list(owners or ())

        def requeue(c, version):
            now = time.time()
            cond = "exp_key = ? AND state = ? AND (heartbeat < ?"
            args = [_key(exp_key), JOB_STATE_RUNNING, now - stale_after]
            if owners:
                cond += f" OR owner IN ({','.join('?' * len(owners))})"
                args += owners
            cond += ")"
            rows = c.execute(f"SELECT tid, attempt, owner, doc FROM trials WHERE {cond}",
                             args).fetchall()
            requeued = errored = 0
            for tid, attempt, owner, body in rows:
                if attempt >= max_attempts:
                    doc = loads(body)
                    doc["misc"]["error"] = [
                        "WorkerLost",
                        f"the worker {owner} stopped sending heartbeats and the trial already "
                        f"had {attempt} attempts (max_attempts={max_attempts})"]
                    doc["result"] = {"status": "fail", "failure": "worker lost"}
                    c.execute("UPDATE trials SET state = ?, doc = ?, refresh_time = ?, "
                              "version = ? WHERE exp_key = ? AND tid = ?",
                              (JOB_STATE_ERROR, dumps(doc), now, version, _key(exp_key), tid))
                    errored += 1
                else:
                    c.execute("UPDATE trials SET state = ?, owner = NULL, refresh_time = ?, "
                              "version = ? WHERE exp_key = ? AND tid = ?",
                              (JOB_STATE_NEW, now, version, _key(exp_key), tid))
                    requeued += 1
            return requeued, errored
        return self._write(requeue, "requeueing stale trials")

    def cancel_new(self, exp_key, tids):
        validate_exp_key(exp_key)
        tids = [int(t) for t in tids]
        if not tids:
            return 0

        def cancel(c, version):
            marks = ",".join("?" * len(tids))
            return c.execute(
                f"UPDATE trials SET state = ?, refresh_time = ?, version = ? "
                f"WHERE exp_key = ? AND state = ? AND tid IN ({marks})",
                (JOB_STATE_CANCEL, time.time(), version, _key(exp_key), JOB_STATE_NEW, *tids)
            ).rowcount
        return self._write(cancel, "cancelling queued trials")

    def changes_since(self, exp_key, token):
        """Documents whose version is above ``token`` (an int; None reads everything)."""
        since = -1 if token is None else int(token)
        rows = self._read(
            f"SELECT {_COLUMNS} FROM trials WHERE exp_key = ? AND version > ? ORDER BY version",
            (_key(exp_key), since), "reading changed trials")
        docs = [self._doc(r) for r in rows]
        return docs, (docs[-1]["version"] if docs else since)

    def get_trials(self, exp_key, tids):
        validate_exp_key(exp_key)
        tids = [int(t) for t in tids]
        if not tids:
            return []
        rows = self._read(
            f"SELECT {_COLUMNS} FROM trials WHERE exp_key = ? AND tid IN ({','.join('?' * len(tids))})",
            (_key(exp_key), *tids), "reading trials")
        return [self._doc(r) for r in rows]

    def count_by_state(self, exp_key):
        counts = empty_counts()
        rows = self._read("SELECT state, COUNT(*) FROM trials WHERE exp_key = ? GROUP BY state",
                          (_key(exp_key),), "counting trials")
        counts.update({state: n for state, n in rows})
        return counts

    def delete_experiment(self, exp_key):
        def delete(c, version):
            for table in ("trials", "attachments", "experiments"):
                c.execute(f"DELETE FROM {table} WHERE exp_key = ?", (_key(exp_key),))
        self._write(delete, "deleting an experiment")

    # -- attachments and experiments ------------------------------------------------------------

    def get_attachment(self, exp_key, name):
        rows = self._read("SELECT data FROM attachments WHERE exp_key = ? AND name = ?",
                          (_key(exp_key), name), f"reading attachment {name!r}")
        return bytes(rows[0][0]) if rows else None

    def has_attachment(self, exp_key, name):
        return bool(self._read("SELECT 1 FROM attachments WHERE exp_key = ? AND name = ?",
                               (_key(exp_key), name), f"looking for attachment {name!r}"))

    def set_attachment(self, exp_key, name, data):
        data = bytes(data)
        self._write(lambda c, v: c.execute(
            "INSERT OR REPLACE INTO attachments VALUES (?, ?, ?)", (_key(exp_key), name, data)),
            f"writing attachment {name!r}")

    def delete_attachment(self, exp_key, name):
        return self._write(lambda c, v: c.execute(
            "DELETE FROM attachments WHERE exp_key = ? AND name = ?",
            (_key(exp_key), name)).rowcount, f"deleting attachment {name!r}")

    def attachment_names(self, exp_key):
        rows = self._read("SELECT name FROM attachments WHERE exp_key = ? ORDER BY name",
                          (_key(exp_key),), "listing attachments")
        return [r[0] for r in rows]

    def get_experiment(self, exp_key):
        rows = self._read("SELECT info FROM experiments WHERE exp_key = ?", (_key(exp_key),),
                          "reading the experiment")
        if not rows:
            return None
        record = loads(rows[0][0])
        record.setdefault("revision", 0)
        return record

    def _replace_record(self, exp_key, expected, info, conditional):
        key = _key(exp_key)

        def replace(c, version):
            row = c.execute("SELECT info FROM experiments WHERE exp_key = ?", (key,)).fetchone()
            revision = None if row is None else loads(row[0]).get("revision", 0)
            if conditional and (revision != (None if expected is None
                                             else expected.get("revision", 0))):
                return False
            c.execute("INSERT OR REPLACE INTO experiments VALUES (?, ?)",
                      (key, dumps(dict(info, revision=(revision or 0) + 1))))
            return True
        return self._write(replace, "writing the experiment")

    def set_experiment(self, exp_key, info):
        self._replace_record(exp_key, None, info, conditional=False)

    def swap_experiment(self, exp_key, expected, info):
        return self._replace_record(exp_key, expected, info, conditional=True)

    # -- workers --------------------------------------------------------------------------------

    def register_worker(self, worker_id, info):
        exp_key = validate_exp_key(info.get("exp_key"))
        self._retry(lambda: self._conn.execute(
            "INSERT OR REPLACE INTO workers VALUES (?, ?, ?, ?)",
            (worker_id, exp_key, dumps(info), time.time())), "registering a worker")

    def unregister_worker(self, worker_id):
        self._retry(lambda: self._conn.execute("DELETE FROM workers WHERE worker_id = ?",
                                               (worker_id,)), "unregistering a worker")

    def live_workers(self, exp_key, within):
        validate_exp_key(exp_key)
        rows = self._read(
            "SELECT worker_id, info FROM workers WHERE last_seen >= ? AND "
            "(exp_key IS NULL OR exp_key = ?)", (time.time() - within, exp_key),
            "listing workers")
        return [dict(loads(info), worker_id=wid) for wid, info in rows]

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
