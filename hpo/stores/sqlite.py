"""The embedded job store: one SQLite file in WAL mode, safe for many processes on one machine.

Every write is one short ``BEGIN IMMEDIATE`` transaction, so a reservation (find the oldest
NEW trial, mark it RUNNING for its owner) is atomic across processes. Each write also bumps a
store-wide version counter and stamps it on the rows it touches, which makes
:meth:`SQLiteStore.changes_since` an indexed range query: readers only ever read the rows that
changed since their last look.

>>> import os, tempfile
>>> store = SQLiteStore(os.path.join(tempfile.mkdtemp(), "exp.db"))
>>> store.reserve("worker-1", exp_key="exp") is None
True
>>> store.close()
"""

from __future__ import annotations

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
    StoreURL,
    StoreUnavailable,
    dumps,
    empty_counts,
    epoch_to_datetime,
    loads,
    retry_call,
)

FORMAT = "hpo-job-store"
SCHEMA_VERSION = "1"

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

_COLUMNS = "exp_key, tid, state, owner, attempt, heartbeat, book_time, refresh_time, version, doc"


def _key(exp_key):
    return "" if exp_key is None else str(exp_key)


def _transient(e):
    return isinstance(e, sqlite3.OperationalError) and (
        "locked" in str(e) or "busy" in str(e) or "unable to open" in str(e)
        or "disk I/O" in str(e)
    )


class SQLiteStore(JobStore):
    """A job store in the SQLite file ``path`` (created if missing).

    ``retry_for``: seconds to keep retrying while the file is locked or unreadable before
    raising :class:`~hpo.stores.StoreUnavailable`.
    """

    def __init__(self, path, retry_for=DEFAULT_RETRY_FOR, busy_timeout=5.0):
        self.path = os.fspath(path)
        self.url = StoreURL("sqlite", path=self.path)
        self.retry_for = float(retry_for)
        self._lock = threading.RLock()
        self._conn = None
        if os.path.isdir(self.path):
            raise NotAnHpoStore(f"store url {self.url.redacted()!r}: {self.path!r} is a directory")
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise StoreUnavailable(
                f"store url {self.url.redacted()!r}: directory {parent!r} does not exist"
            )
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
            self._retry(self._setup, "opening the store")
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

    def _retry(self, fn, what):
        def locked():
            with self._lock:
                return fn()
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
        """Insert NEW trial documents (one transaction)."""
        rows = []
        for doc in docs:
            body = {k: doc.get(k) for k in ("spec", "result", "misc", "domain_sha256")}
            rows.append((_key(doc.get("exp_key")), int(doc["tid"]), int(doc["state"]),
                         doc.get("owner"), dumps(body)))
        now = time.time()

        def insert(c, version):
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
        return loads(rows[0][0]) if rows else None

    def set_experiment(self, exp_key, info):
        self._write(lambda c, v: c.execute("INSERT OR REPLACE INTO experiments VALUES (?, ?)",
                                           (_key(exp_key), dumps(info))),
                    "writing the experiment")

    # -- workers --------------------------------------------------------------------------------

    def register_worker(self, worker_id, info):
        self._retry(lambda: self._conn.execute(
            "INSERT OR REPLACE INTO workers VALUES (?, ?, ?, ?)",
            (worker_id, info.get("exp_key"), dumps(info), time.time())), "registering a worker")

    def unregister_worker(self, worker_id):
        self._retry(lambda: self._conn.execute("DELETE FROM workers WHERE worker_id = ?",
                                               (worker_id,)), "unregistering a worker")

    def live_workers(self, exp_key, within):
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
