"""The MongoDB job store (pymongo 4): trials of many machines in one collection.

Layout in database ``db`` for ``mongo://host:port/db/jobs``: trial documents in ``jobs``
(indexes on (exp_key, state) and a unique one on (exp_key, tid)), attachments in
``jobs_attachments`` (values over :data:`GRIDFS_THRESHOLD` bytes in the GridFS bucket
``jobs_fs``), experiment records in ``jobs_experiments``, worker registrations in
``jobs_workers`` and a format marker in ``jobs_meta``.

Every transition is one atomic command: ``find_one_and_update`` reserves (NEW -> RUNNING),
``update_one`` with the owner and attempt in its filter finishes, so a late write from a
worker whose trial was requeued matches nothing. Times that matter across machines (book,
refresh and heartbeat times) are the server's (``$currentDate``), and stale checks compare
them with the server's clock (see :meth:`MongoStore.server_now`), so the clocks of the
machines need not agree.

>>> MongoStore.__name__
'MongoStore'
"""

from __future__ import annotations

import datetime
import time
import uuid

import gridfs
import pymongo
from bson.binary import Binary
from pymongo import errors as mongo_errors

from ..base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
)
from .base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRY_FOR,
    DuplicateTrialId,
    JobStore,
    NotAnHpoStore,
    StoreAuthError,
    StoreUnavailable,
    empty_counts,
    retry_call,
    to_plain,
)

FORMAT = "hpo-job-store"
SCHEMA_VERSION = 1
#: Attachments larger than this go to GridFS (a MongoDB document holds at most 16 MB).
GRIDFS_THRESHOLD = 4 * 1024 * 1024
#: How far back (seconds) changes_since looks before its token, for writes that were
#: timestamped just before the previous read but committed just after it.
CHANGE_MARGIN = 0.5
_PROJECTION = {"_id": 0, "insert_token": 0}
_AUTH_CODES = {18, 13}  # AuthenticationFailed, Unauthorized
_EPOCH = datetime.datetime(1970, 1, 1)


def _transient(e):
    return isinstance(e, (mongo_errors.AutoReconnect, mongo_errors.ConnectionFailure,
                          mongo_errors.ServerSelectionTimeoutError, mongo_errors.NetworkTimeout))


def _auth_error(url, e):
    return StoreAuthError(
        f"store url {url.redacted()!r}: the server refused the credentials "
        f"(user {url.username!r}): {e}. Check user, password and ?authSource=..."
    )


class MongoStore(JobStore):
    """A job store in MongoDB at the parsed URL ``url`` (see :func:`hpo.stores.open_store`)."""

    def __init__(self, url, connect_timeout=DEFAULT_CONNECT_TIMEOUT, retry_for=DEFAULT_RETRY_FOR):
        self.url = url
        self.retry_for = float(retry_for)
        options = dict(url.options)
        kwargs = {
            "host": url.host, "port": url.port, "appname": "hpo",
            "serverSelectionTimeoutMS": int(1000 * min(2.0, max(0.1, connect_timeout))),
            "connectTimeoutMS": int(1000 * min(5.0, max(0.1, connect_timeout))),
            "socketTimeoutMS": 60_000, "retryWrites": False, "tz_aware": False,
        }
        if url.username is not None:
            kwargs.update(username=url.username, password=url.password or "",
                          authSource=options.pop("authSource", url.database))
        for key, value in options.items():
            kwargs[key] = value
        try:
            self.client = pymongo.MongoClient(**kwargs)
        except (mongo_errors.ConfigurationError, TypeError, ValueError) as e:
            from .base import StoreURLError

            raise StoreURLError(f"store url {url.redacted()!r}: {e}") from e
        db = self.client[url.database]
        self.db = db
        self.jobs = db[url.collection]
        self.attachments = db[f"{url.collection}_attachments"]
        self.experiments = db[f"{url.collection}_experiments"]
        self.workers = db[f"{url.collection}_workers"]
        self.meta = db[f"{url.collection}_meta"]
        self.fs = gridfs.GridFS(db, collection=f"{url.collection}_fs")
        self._clock = None  # (monotonic time measured, server clock - local clock in seconds)
        try:
            retry_call(self._setup, _transient, connect_timeout,
                       f"store url {url.redacted()!r}: connecting")
        except StoreUnavailable as e:
            self.client.close()
            raise StoreUnavailable(
                f"cannot reach the MongoDB server of {url.redacted()!r} within "
                f"connect_timeout={connect_timeout:g} s; is it running and reachable? ({e})"
            ) from e.__cause__
        except BaseException:
            self.client.close()
            raise

    def _setup(self):
        try:
            self.client.admin.command("ping")
            marker = self.meta.find_one({"_id": "format"})
            if marker is None:
                if self.jobs.find_one({}, {"_id": 1}) is not None:
                    raise NotAnHpoStore(
                        f"store url {self.url.redacted()!r}: collection "
                        f"{self.url.collection!r} holds documents but no hpo format marker; "
                        f"use another collection"
                    )
                self.meta.update_one({"_id": "format"}, {"$setOnInsert": {
                    "value": FORMAT, "schema": SCHEMA_VERSION}}, upsert=True)
            elif marker.get("value") != FORMAT or marker.get("schema") != SCHEMA_VERSION:
                raise NotAnHpoStore(
                    f"store url {self.url.redacted()!r}: format marker {marker!r} is not an hpo "
                    f"job store of schema {SCHEMA_VERSION}"
                )
            self.jobs.create_indexes([
                pymongo.IndexModel([("exp_key", 1), ("state", 1)]),
                pymongo.IndexModel([("exp_key", 1), ("tid", 1)], unique=True),
                pymongo.IndexModel([("exp_key", 1), ("refresh_time", 1)]),
            ])
            self.attachments.create_index([("exp_key", 1), ("name", 1)], unique=True)
        except mongo_errors.OperationFailure as e:
            if e.code in _AUTH_CODES:
                raise _auth_error(self.url, e) from e
            raise

    def _retry(self, fn, what):
        def call():
            try:
                return fn()
            except mongo_errors.OperationFailure as e:
                if e.code in _AUTH_CODES:
                    raise _auth_error(self.url, e) from e
                raise
        return retry_call(call, _transient, self.retry_for, f"{self.url.redacted()}: {what}")

    @staticmethod
    def _owned(exp_key, tid, owner, attempt):
        return {"exp_key": exp_key, "tid": tid, "state": JOB_STATE_RUNNING, "owner": owner,
                "attempt": attempt}

    # -- trials -------------------------------------------------------------------------------

    def insert_trials(self, docs):
        token = uuid.uuid4().hex
        rows = []
        for doc in docs:
            row = {k: doc.get(k) for k in ("exp_key", "tid", "state", "owner", "spec", "result",
                                           "misc", "domain_sha256", "book_time")}
            row.update(to_plain(row, what=f"trial {doc['tid']}"), attempt=0, version=0,
                       heartbeat=None, refresh_time=None, insert_token=token)
            rows.append(row)

        def insert():
            try:
                self.jobs.insert_many(rows, ordered=True)
            except mongo_errors.BulkWriteError as e:
                mine = {d["tid"] for d in self.jobs.find(
                    {"exp_key": rows[0]["exp_key"], "insert_token": token}, {"tid": 1})}
                if mine == {r["tid"] for r in rows}:
                    return  # an earlier attempt of this very insert went through
                self.jobs.delete_many({"exp_key": rows[0]["exp_key"], "insert_token": token})
                raise DuplicateTrialId(f"a trial id of {[r['tid'] for r in rows]} exists") from e
            finally:
                for row in rows:
                    row.pop("_id", None)
        if rows:
            self._retry(insert, "inserting trials")

    def max_tid(self, exp_key):
        doc = self._retry(lambda: self.jobs.find_one(
            {"exp_key": exp_key}, {"tid": 1}, sort=[("tid", -1)]), "reading the largest tid")
        return -1 if doc is None else doc["tid"]

    def reserve(self, owner, exp_key=None):
        query = {"state": JOB_STATE_NEW}
        if exp_key is not None:
            query["exp_key"] = exp_key
        return self._retry(lambda: self.jobs.find_one_and_update(
            query,
            {"$set": {"state": JOB_STATE_RUNNING, "owner": owner},
             "$inc": {"attempt": 1, "version": 1},
             "$currentDate": {"book_time": True, "refresh_time": True, "heartbeat": True}},
            sort=[("tid", 1)], projection=_PROJECTION,
            return_document=pymongo.ReturnDocument.AFTER), "reserving a trial")

    def heartbeat(self, exp_key, tid, owner, attempt):
        return self._retry(lambda: self.jobs.update_one(
            self._owned(exp_key, tid, owner, attempt),
            {"$currentDate": {"heartbeat": True}}).matched_count == 1, "sending a heartbeat")

    def _update_owned(self, exp_key, tid, owner, attempt, sets, new_state, what):
        update = {"$set": dict(sets, state=new_state), "$inc": {"version": 1},
                  "$currentDate": {"refresh_time": True}}
        if new_state == JOB_STATE_NEW:
            update["$set"]["owner"] = None
        first = [True]

        def write():
            if self.jobs.update_one(self._owned(exp_key, tid, owner, attempt),
                                    update).matched_count == 1:
                return True
            if first[0]:
                return False
            # A retry after a lost reply: did the first attempt go through?
            doc = self.jobs.find_one({"exp_key": exp_key, "tid": tid},
                                     {"state": 1, "owner": 1, "attempt": 1})
            return bool(doc and doc["state"] == new_state and doc["attempt"] == attempt
                        and doc["owner"] in (owner, None))

        def attempt_write():
            try:
                return write()
            finally:
                first[0] = False
        return self._retry(attempt_write, what)

    def checkpoint(self, exp_key, tid, owner, attempt, result):
        return self._update_owned(exp_key, tid, owner, attempt,
                                  {"result": to_plain(result, "result")}, JOB_STATE_RUNNING,
                                  "checkpointing a trial")

    def finish(self, exp_key, tid, owner, attempt, state, result, misc_update=None):
        if state not in (JOB_STATE_DONE, JOB_STATE_ERROR):
            raise ValueError(f"finish: state must be DONE or ERROR, got {state!r}")
        sets = {"result": to_plain(result, "result")}
        for key, value in (misc_update or {}).items():
            sets[f"misc.{key}"] = to_plain(value, f"misc.{key}")
        return self._update_owned(exp_key, tid, owner, attempt, sets, state, "finishing a trial")

    def release(self, exp_key, tid, owner, attempt):
        return self._update_owned(exp_key, tid, owner, attempt, {}, JOB_STATE_NEW,
                                  "releasing a trial")

    def server_now(self):
        """The server's clock now, from an offset measured at most a minute ago.

        One ``$currentDate`` write read back gives the server's time; the offset to the local
        clock is kept, so stale checks compare server times with server times.
        """
        now = time.monotonic()
        if self._clock is None or now - self._clock[0] > 60.0:
            def probe():
                sent = time.time()
                doc = self.meta.find_one_and_update(
                    {"_id": "clock"}, {"$currentDate": {"now": True}}, upsert=True,
                    return_document=pymongo.ReturnDocument.AFTER)
                received = time.time()
                server = (doc["now"] - _EPOCH).total_seconds()
                return server - (sent + received) / 2
            self._clock = (now, self._retry(probe, "reading the server clock"))
        return _EPOCH + datetime.timedelta(seconds=time.time() + self._clock[1])

    def requeue_stale(self, exp_key, stale_after, max_attempts, owners=None):
        stale = {"heartbeat": {"$lt": self.server_now() - datetime.timedelta(seconds=stale_after)}}
        lost = {"$or": [stale, {"owner": {"$in": list(owners)}}]} if owners else stale
        base = {"exp_key": exp_key, "state": JOB_STATE_RUNNING, **lost}

        def requeue():
            errored = self.jobs.update_many(
                {**base, "attempt": {"$gte": max_attempts}},
                {"$set": {"state": JOB_STATE_ERROR,
                          "result": {"status": "fail", "failure": "worker lost"},
                          "misc.error": ["WorkerLost",
                                         f"the worker stopped sending heartbeats and the trial "
                                         f"already had max_attempts={max_attempts} attempts"]},
                 "$inc": {"version": 1}, "$currentDate": {"refresh_time": True}}).modified_count
            requeued = self.jobs.update_many(
                {**base, "attempt": {"$lt": max_attempts}},
                {"$set": {"state": JOB_STATE_NEW, "owner": None}, "$inc": {"version": 1},
                 "$currentDate": {"refresh_time": True}}).modified_count
            return requeued, errored
        return self._retry(requeue, "requeueing stale trials")

    def cancel_new(self, exp_key, tids):
        tids = [int(t) for t in tids]
        if not tids:
            return 0
        return self._retry(lambda: self.jobs.update_many(
            {"exp_key": exp_key, "state": JOB_STATE_NEW, "tid": {"$in": tids}},
            {"$set": {"state": JOB_STATE_CANCEL}, "$inc": {"version": 1},
             "$currentDate": {"refresh_time": True}}).modified_count, "cancelling queued trials")

    def changes_since(self, exp_key, token):
        """Documents whose (server) refresh time is at or after ``token`` minus a margin.

        Token ``None`` reads the whole experiment. Documents may be returned more than once;
        readers skip the versions they have.
        """
        query = {"exp_key": exp_key}
        if token is not None:
            query["refresh_time"] = {"$gte": token - datetime.timedelta(seconds=CHANGE_MARGIN)}
        docs = self._retry(lambda: list(self.jobs.find(query, _PROJECTION)),
                           "reading changed trials")
        times = [d["refresh_time"] for d in docs if d.get("refresh_time") is not None]
        new_token = max([token or _EPOCH, *times])
        return docs, new_token

    def get_trials(self, exp_key, tids):
        tids = [int(t) for t in tids]
        if not tids:
            return []
        return self._retry(lambda: list(self.jobs.find(
            {"exp_key": exp_key, "tid": {"$in": tids}}, _PROJECTION)), "reading trials")

    def count_by_state(self, exp_key):
        counts = empty_counts()
        rows = self._retry(lambda: list(self.jobs.aggregate([
            {"$match": {"exp_key": exp_key}}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}])),
            "counting trials")
        counts.update({r["_id"]: r["n"] for r in rows})
        return counts

    def delete_experiment(self, exp_key):
        def delete():
            for doc in self.attachments.find({"exp_key": exp_key, "gridfs_id": {"$ne": None}}):
                self.fs.delete(doc["gridfs_id"])
            self.jobs.delete_many({"exp_key": exp_key})
            self.attachments.delete_many({"exp_key": exp_key})
            self.experiments.delete_one({"_id": exp_key})
        self._retry(delete, "deleting an experiment")

    # -- attachments and experiments ------------------------------------------------------------

    def get_attachment(self, exp_key, name):
        def get():
            doc = self.attachments.find_one({"exp_key": exp_key, "name": name})
            if doc is None:
                return None
            if doc.get("gridfs_id") is not None:
                return self.fs.get(doc["gridfs_id"]).read()
            return bytes(doc["data"])
        return self._retry(get, f"reading attachment {name!r}")

    def set_attachment(self, exp_key, name, data):
        data = bytes(data)

        def put():
            old = self.attachments.find_one({"exp_key": exp_key, "name": name}, {"gridfs_id": 1})
            if len(data) > GRIDFS_THRESHOLD:
                fields = {"data": None, "gridfs_id": self.fs.put(data, filename=name)}
            else:
                fields = {"data": Binary(data), "gridfs_id": None}
            self.attachments.update_one({"exp_key": exp_key, "name": name},
                                        {"$set": fields}, upsert=True)
            if old is not None and old.get("gridfs_id") is not None:
                self.fs.delete(old["gridfs_id"])
        self._retry(put, f"writing attachment {name!r}")

    def delete_attachment(self, exp_key, name):
        def delete():
            doc = self.attachments.find_one_and_delete({"exp_key": exp_key, "name": name})
            if doc is not None and doc.get("gridfs_id") is not None:
                self.fs.delete(doc["gridfs_id"])
            return int(doc is not None)
        return self._retry(delete, f"deleting attachment {name!r}")

    def attachment_names(self, exp_key):
        return self._retry(lambda: sorted(d["name"] for d in self.attachments.find(
            {"exp_key": exp_key}, {"name": 1})), "listing attachments")

    def get_experiment(self, exp_key):
        doc = self._retry(lambda: self.experiments.find_one({"_id": exp_key}),
                          "reading the experiment")
        return None if doc is None else doc.get("info")

    def set_experiment(self, exp_key, info):
        self._retry(lambda: self.experiments.replace_one(
            {"_id": exp_key}, {"_id": exp_key, "info": to_plain(info)}, upsert=True),
            "writing the experiment")

    # -- workers --------------------------------------------------------------------------------

    def register_worker(self, worker_id, info):
        self._retry(lambda: self.workers.update_one(
            {"_id": worker_id},
            {"$set": {"exp_key": info.get("exp_key"), "info": to_plain(info)},
             "$currentDate": {"last_seen": True}}, upsert=True), "registering a worker")

    def unregister_worker(self, worker_id):
        self._retry(lambda: self.workers.delete_one({"_id": worker_id}), "unregistering a worker")

    def live_workers(self, exp_key, within):
        query = {"last_seen": {"$gte": self.server_now() - datetime.timedelta(seconds=within)},
                 "exp_key": {"$in": [None, exp_key]}}
        docs = self._retry(lambda: list(self.workers.find(query)), "listing workers")
        return [dict(d["info"], worker_id=d["_id"]) for d in docs]

    def close(self):
        self.client.close()
