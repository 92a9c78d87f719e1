"""The MongoDB job store (pymongo 4): trials of many machines in one collection.

Layout in database ``db`` for ``mongo://host:port/db/jobs``: trial documents in ``jobs``
(indexes on (exp_key, state) and a unique one on (exp_key, tid)), attachments in
``jobs_attachments`` (values over :data:`GRIDFS_THRESHOLD` bytes in the GridFS bucket
``jobs_fs``), experiment records in ``jobs_experiments``, worker registrations in
``jobs_workers`` and a format marker in ``jobs_meta``.

An attachment in GridFS is replaced by writing the new file first and then swapping the
reference by compare-and-set on the attachment's revision: the writer that swapped a file out
deletes it, so concurrent writers leak nothing, and a reader that finds its file gone reads
the new reference.
A result too large for one document raises :class:`~hpo.stores.ResultTooLarge` and writes
nothing, so the worker can record a small error instead.

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

import bson
import gridfs
import pymongo
from bson.binary import Binary
from gridfs import errors as gridfs_errors
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
    ResultTooLarge,
    StoreAuthError,
    StoreError,
    StoreUnavailable,
    check_trial_domains,
    empty_counts,
    retry_call,
    to_plain,
    validate_exp_key,
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
# BSONObjectTooLarge, and the results of an update growing past the document size limit.
_TOO_LARGE_CODES = {10334, 17419, 17420}
#: How many times a read or a compare-and-set is retried while concurrent writers change it.
_CONTENDED_TRIES = 100
_EPOCH = datetime.datetime(1970, 1, 1)


def _transient(e):
    return isinstance(e, (mongo_errors.AutoReconnect, mongo_errors.ConnectionFailure,
                          mongo_errors.ServerSelectionTimeoutError, mongo_errors.NetworkTimeout))


def _auth_error(url, e):
    return StoreAuthError(
        f"store url {url.redacted()!r}: the server refused the credentials "
        f"(user {url.username!r}): {e}. Check user, password and ?authSource=..."
    )


def _revision(revision):
    # Records written before revisions existed have none; they count as revision 0.
    return {"$in": [0, None]} if not revision else revision


class MongoStore(JobStore):
    """A job store in MongoDB at the parsed URL ``url`` (see :func:`hpo.stores.open_store`).

    ``gridfs_threshold``: attachments larger than this many bytes go to GridFS.
    """

    def __init__(self, url, connect_timeout=DEFAULT_CONNECT_TIMEOUT, retry_for=DEFAULT_RETRY_FOR,
                 gridfs_threshold=GRIDFS_THRESHOLD):
        self.url = url
        self.retry_for = float(retry_for)
        self.gridfs_threshold = int(gridfs_threshold)
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
        validate_exp_key(exp_key)
        return {"exp_key": exp_key, "tid": tid, "state": JOB_STATE_RUNNING, "owner": owner,
                "attempt": attempt}

    # -- trials -------------------------------------------------------------------------------

    def insert_trials(self, docs):
        """Insert NEW documents, all or none; they are visible to :meth:`changes_since`.

        The experiment record is checked (and marked as holding trials) before the insert, by a
        compare-and-set on its revision, so that a driver that stored another search space
        meanwhile makes this insert fail with :class:`~hpo.stores.DomainMismatch`.
        """
        token = uuid.uuid4().hex
        rows, by_key = [], {}
        for doc in docs:
            exp_key = validate_exp_key(doc.get("exp_key"))
            row = {k: doc.get(k) for k in ("exp_key", "tid", "state", "owner", "spec", "result",
                                           "misc", "domain_sha256", "book_time")}
            row.update(to_plain(row, what=f"trial {doc['tid']}"), attempt=0, version=0,
                       heartbeat=None, insert_token=token)
            rows.append(row)
            by_key.setdefault(exp_key, []).append(row)
        if not rows:
            return
        for exp_key, key_rows in by_key.items():
            self._claim_domains(exp_key, key_rows)
        mine = {"exp_key": {"$in": list(by_key)}, "insert_token": token}
        # A first timestamp from the server's clock (estimated), so that a process dying right
        # after the insert leaves documents that readers still find ...
        now = self.server_now()
        for row in rows:
            row["refresh_time"] = now

        def insert():
            try:
                self.jobs.insert_many(rows, ordered=True)
            except mongo_errors.BulkWriteError as e:
                inserted = {(d["exp_key"], d["tid"]) for d in self.jobs.find(mine, {"tid": 1,
                                                                                   "exp_key": 1})}
                if inserted == {(r["exp_key"], r["tid"]) for r in rows}:
                    return  # an earlier attempt of this very insert went through
                self.jobs.delete_many(mine)
                raise DuplicateTrialId(f"a trial id of {[r['tid'] for r in rows]} exists") from e
            finally:
                for row in rows:
                    row.pop("_id", None)
        self._retry(insert, "inserting trials")
        # ... then the server's own time, taken as the write is applied, like every other
        # transition: a reader whose token is older than CHANGE_MARGIN cannot miss them.
        self._retry(lambda: self.jobs.update_many(mine, {"$currentDate": {"refresh_time": True}}),
                    "timestamping inserted trials")

    def _claim_domains(self, exp_key, rows):
        where = self.url.redacted()
        for _ in range(_CONTENDED_TRIES):
            record = self.get_experiment(exp_key)
            if not check_trial_domains(record, rows, exp_key, where):
                return
            marked = self._retry(lambda: self.experiments.update_one(
                {"_id": exp_key, "revision": _revision(record["revision"])},
                {"$set": {"info.used": True}, "$inc": {"revision": 1}}).matched_count,
                "marking the experiment as holding trials")
            if marked:
                return
        raise StoreError(f"{where}: the record of exp_key {exp_key!r} kept changing while "
                         f"trials were inserted; retry")

    def max_tid(self, exp_key):
        validate_exp_key(exp_key)
        doc = self._retry(lambda: self.jobs.find_one(
            {"exp_key": exp_key}, {"tid": 1}, sort=[("tid", -1)]), "reading the largest tid")
        return -1 if doc is None else doc["tid"]

    def reserve(self, owner, exp_key=None):
        validate_exp_key(exp_key)
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
            try:
                matched = self.jobs.update_one(self._owned(exp_key, tid, owner, attempt),
                                               update).matched_count
            except mongo_errors.DocumentTooLarge as e:
                raise self._too_large(exp_key, tid, sets, what) from e
            except mongo_errors.OperationFailure as e:
                if e.code in _TOO_LARGE_CODES:
                    raise self._too_large(exp_key, tid, sets, what) from e
                raise
            if matched == 1:
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

    def _too_large(self, exp_key, tid, sets, what):
        size = len(bson.encode({k.replace(".", "_"): v for k, v in sets.items()}))
        return ResultTooLarge(
            f"{what}: trial {tid} (exp_key {exp_key!r}): the result is {size} bytes of BSON, "
            f"too large for one MongoDB document (at most {self.client.max_bson_size} bytes "
            f"with the rest of the trial); nothing was written. Keep results small and store "
            f"large outputs as attachments (ctrl.attachments[name] = bytes)")

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
        validate_exp_key(exp_key)
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
        validate_exp_key(exp_key)
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
        query = {"exp_key": validate_exp_key(exp_key)}
        if token is not None:
            query["refresh_time"] = {"$gte": token - datetime.timedelta(seconds=CHANGE_MARGIN)}
        docs = self._retry(lambda: list(self.jobs.find(query, _PROJECTION)),
                           "reading changed trials")
        times = [d["refresh_time"] for d in docs if d.get("refresh_time") is not None]
        new_token = max([token or _EPOCH, *times])
        return docs, new_token

    def get_trials(self, exp_key, tids):
        validate_exp_key(exp_key)
        tids = [int(t) for t in tids]
        if not tids:
            return []
        return self._retry(lambda: list(self.jobs.find(
            {"exp_key": exp_key, "tid": {"$in": tids}}, _PROJECTION)), "reading trials")

    def count_by_state(self, exp_key):
        validate_exp_key(exp_key)
        counts = empty_counts()
        rows = self._retry(lambda: list(self.jobs.aggregate([
            {"$match": {"exp_key": exp_key}}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}])),
            "counting trials")
        counts.update({r["_id"]: r["n"] for r in rows})
        return counts

    def delete_experiment(self, exp_key):
        validate_exp_key(exp_key)

        def delete():
            referenced = [d["gridfs_id"] for d in self.attachments.find(
                {"exp_key": exp_key, "gridfs_id": {"$ne": None}}, {"gridfs_id": 1})]
            # Files of this experiment that no attachment refers to: a writer died between
            # writing the file and swapping the reference.
            tagged = [f._id for f in self.fs.find({"metadata.hpo": True,
                                                   "metadata.exp_key": exp_key})]
            self.jobs.delete_many({"exp_key": exp_key})
            self.attachments.delete_many({"exp_key": exp_key})
            self.experiments.delete_one({"_id": exp_key})
            for file_id in set(referenced) | set(tagged):
                self.fs.delete(file_id)
        self._retry(delete, "deleting an experiment")

    # -- attachments and experiments ------------------------------------------------------------

    def get_attachment(self, exp_key, name):
        key = {"exp_key": validate_exp_key(exp_key), "name": name}

        def get():
            for _ in range(_CONTENDED_TRIES):
                doc = self.attachments.find_one(key)
                if doc is None:
                    return None
                if doc.get("gridfs_id") is None:
                    return bytes(doc["data"])
                try:
                    return self.fs.get(doc["gridfs_id"]).read()
                except (gridfs_errors.NoFile, gridfs_errors.CorruptGridFile):
                    continue  # a writer replaced it and deleted the old file: read the new one
            raise StoreError(f"{self.url.redacted()}: attachment {name!r} was replaced "
                             f"{_CONTENDED_TRIES} times while it was being read")
        return self._retry(get, f"reading attachment {name!r}")

    def has_attachment(self, exp_key, name):
        key = {"exp_key": validate_exp_key(exp_key), "name": name}
        return self._retry(lambda: self.attachments.find_one(key, {"_id": 1}) is not None,
                           f"looking for attachment {name!r}")

    def set_attachment(self, exp_key, name, data):
        key = {"exp_key": validate_exp_key(exp_key), "name": name}
        data = bytes(data)
        if len(data) > self.gridfs_threshold:
            file_id = self._retry(lambda: self.fs.put(
                data, filename=name, metadata={"hpo": True, "exp_key": exp_key, "name": name}),
                f"writing attachment {name!r}")
            fields = {"data": None, "gridfs_id": file_id}
        else:
            file_id, fields = None, {"data": Binary(data), "gridfs_id": None}

        def swap():
            # A compare-and-set on the attachment's own revision: findAndModify does not return
            # a consistent "before" document on every MongoDB-protocol server.
            for _ in range(_CONTENDED_TRIES):
                old = self.attachments.find_one(key, {"gridfs_id": 1, "rev": 1})
                if old is None:
                    try:
                        self.attachments.insert_one(dict(key, **fields, rev=1))
                        return None
                    except mongo_errors.DuplicateKeyError:
                        continue  # another first writer won; replace its value now
                if self.attachments.update_one(
                        dict(key, rev=_revision(old.get("rev"))),
                        {"$set": fields, "$inc": {"rev": 1}}).matched_count:
                    return old
            raise StoreError(f"{self.url.redacted()}: attachment {name!r} was replaced "
                             f"{_CONTENDED_TRIES} times while this process wrote it")
        try:
            old = self._retry(swap, f"writing attachment {name!r}")
        except BaseException:
            if file_id is not None:
                self._retry(lambda: self.fs.delete(file_id), f"cleaning up attachment {name!r}")
            raise
        # Only the writer that swapped a file out deletes it, so each file is deleted once.
        if old is not None and old.get("gridfs_id") not in (None, file_id):
            self._retry(lambda: self.fs.delete(old["gridfs_id"]),
                        f"deleting the old value of attachment {name!r}")

    def delete_attachment(self, exp_key, name):
        key = {"exp_key": validate_exp_key(exp_key), "name": name}

        def delete():
            for _ in range(_CONTENDED_TRIES):
                doc = self.attachments.find_one(key, {"gridfs_id": 1, "rev": 1})
                if doc is None:
                    return 0
                if self.attachments.delete_one(dict(key, rev=_revision(doc.get("rev")))
                                               ).deleted_count:
                    if doc.get("gridfs_id") is not None:
                        self.fs.delete(doc["gridfs_id"])
                    return 1
            raise StoreError(f"{self.url.redacted()}: attachment {name!r} kept changing "
                             f"while this process deleted it")
        return self._retry(delete, f"deleting attachment {name!r}")

    def attachment_names(self, exp_key):
        validate_exp_key(exp_key)
        return self._retry(lambda: sorted(d["name"] for d in self.attachments.find(
            {"exp_key": exp_key}, {"name": 1})), "listing attachments")

    def get_experiment(self, exp_key):
        validate_exp_key(exp_key)
        doc = self._retry(lambda: self.experiments.find_one({"_id": exp_key}),
                          "reading the experiment")
        if doc is None:
            return None
        return dict(doc.get("info") or {}, revision=doc.get("revision") or 0)

    @staticmethod
    def _info(info):
        return to_plain({k: v for k, v in info.items() if k != "revision"}, "experiment record")

    def set_experiment(self, exp_key, info):
        validate_exp_key(exp_key)
        info = self._info(info)
        self._retry(lambda: self.experiments.update_one(
            {"_id": exp_key}, {"$set": {"info": info}, "$inc": {"revision": 1}}, upsert=True),
            "writing the experiment")

    def swap_experiment(self, exp_key, expected, info):
        validate_exp_key(exp_key)
        info = self._info(info)

        def swap():
            if expected is None:
                try:
                    self.experiments.insert_one({"_id": exp_key, "info": info, "revision": 1})
                    return True
                except mongo_errors.DuplicateKeyError:
                    return False
            return self.experiments.update_one(
                {"_id": exp_key, "revision": _revision(expected.get("revision"))},
                {"$set": {"info": info}, "$inc": {"revision": 1}}).matched_count == 1
        return self._retry(swap, "writing the experiment")

    # -- workers --------------------------------------------------------------------------------

    def register_worker(self, worker_id, info):
        exp_key = validate_exp_key(info.get("exp_key"))
        self._retry(lambda: self.workers.update_one(
            {"_id": worker_id},
            {"$set": {"exp_key": exp_key, "info": to_plain(info)},
             "$currentDate": {"last_seen": True}}, upsert=True), "registering a worker")

    def unregister_worker(self, worker_id):
        self._retry(lambda: self.workers.delete_one({"_id": worker_id}), "unregistering a worker")

    def live_workers(self, exp_key, within):
        validate_exp_key(exp_key)
        query = {"last_seen": {"$gte": self.server_now() - datetime.timedelta(seconds=within)},
                 "exp_key": {"$in": [None, exp_key]}}
        docs = self._retry(lambda: list(self.workers.find(query)), "listing workers")
        return [dict(d["info"], worker_id=d["_id"]) for d in docs]

    def close(self):
        self.client.close()
