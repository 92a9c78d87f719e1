"""The in-process job store: the whole protocol in Python dicts behind one lock.

``open_store("memory://")`` returns a new, empty :class:`MemoryStore` on every call: the store
lives in the process that opened it, so threads of that process can share it (pass the store
object, not the URL), but worker processes cannot -- use SQLite or MongoDB for those. It is
what tests and in-process executors use when they want the store protocol without a file.

Like the SQLite store, every write bumps a store-wide version and stamps it on the trials it
touches; each experiment keeps its trials in the order of their last change, so
:meth:`MemoryStore.changes_since` walks back only over what changed.

>>> store = MemoryStore()
>>> store.count_by_state("exp")
{0: 0, 1: 0, 2: 0, 3: 0, 4: 0}
>>> store.reserve("worker-1", exp_key="exp") is None
True
"""

from __future__ import annotations

import collections
import copy
import itertools
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
    DuplicateTrialId,
    JobStore,
    StoreError,
    StoreURL,
    check_trial_domains,
    empty_counts,
    epoch_to_datetime,
    to_plain,
    validate_exp_key,
)

_TIMES = ("heartbeat", "book_time", "refresh_time")


class _Experiment:
    def __init__(self):
        # tid -> row, in the order of the rows' last change (their versions ascend).
        self.rows = collections.OrderedDict()
        self.new = set()      # tids of NEW trials
        self.running = set()  # tids of RUNNING trials
        self.attachments = {}
        self.record = None


class MemoryStore(JobStore):
    """A job store in this process's memory (see the module docstring); thread-safe.

    >>> from hpo.stores import open_store
    >>> a, b = open_store("memory://"), open_store("memory://")
    >>> a.set_attachment("e", "k", b"v"); b.has_attachment("e", "k")
    False
    """

    def __init__(self):
        self.url = StoreURL("memory")
        self._lock = threading.RLock()
        self._experiments = {}
        self._workers = {}
        self._version = 0
        self._sequence = itertools.count()  # insertion order, for reserve() across experiments
        self._closed = False

    # -- plumbing -----------------------------------------------------------------------------

    def _exp(self, exp_key, create=False):
        validate_exp_key(exp_key)
        if self._closed:
            raise StoreError("memory://: the store was closed")
        exp = self._experiments.get(exp_key)
        if exp is None and create:
            exp = self._experiments[exp_key] = _Experiment()
        return exp

    def _touch(self, exp, tid, row, version):
        row["doc"]["version"] = version
        row["refresh_time"] = time.time()
        exp.rows.move_to_end(tid)

    def _next_version(self):
        self._version += 1
        return self._version

    @staticmethod
    def _out(row):
        doc = copy.deepcopy(row["doc"])
        for name in _TIMES:
            doc[name] = epoch_to_datetime(row[name])
        return doc

    def _set_state(self, exp, tid, row, state):
        exp.new.discard(tid)
        exp.running.discard(tid)
        if state == JOB_STATE_NEW:
            exp.new.add(tid)
        elif state == JOB_STATE_RUNNING:
            exp.running.add(tid)
        row["doc"]["state"] = state

    # -- trials -------------------------------------------------------------------------------

    def insert_trials(self, docs):
        """Insert NEW documents, all or none."""
        rows = []
        for doc in docs:
            exp_key = validate_exp_key(doc.get("exp_key"))
            body = {k: doc.get(k) for k in ("exp_key", "tid", "state", "owner", "spec", "result",
                                            "misc", "domain_sha256")}
            body = copy.deepcopy(to_plain(body, what=f"trial {doc.get('tid')!r}"))
            body.update(tid=int(doc["tid"]), state=int(doc["state"]), attempt=0, version=0)
            rows.append((exp_key, body))
        if not rows:
            return None
        with self._lock:
            by_exp = collections.defaultdict(list)
            for exp_key, body in rows:
                by_exp[exp_key].append(body)
            for exp_key, bodies in by_exp.items():
                exp = self._exp(exp_key, create=True)
                tids = [b["tid"] for b in bodies]
                taken = [t for t in tids if t in exp.rows]
                if taken or len(set(tids)) != len(tids):
                    raise DuplicateTrialId(f"a trial id of {tids} exists in exp_key {exp_key!r}")
            marks = {exp_key: check_trial_domains(self._experiments[exp_key].record, bodies,
                                                  exp_key, self.url.redacted())
                     for exp_key, bodies in by_exp.items()}
            version = self._next_version()
            now = time.time()
            for exp_key, bodies in by_exp.items():
                exp = self._experiments[exp_key]
                if marks[exp_key]:
                    exp.record = dict(exp.record, used=True, revision=exp.record["revision"] + 1)
                for body in bodies:
                    body["version"] = version
                    row = {"doc": body, "seq": next(self._sequence), "heartbeat": None,
                           "book_time": None, "refresh_time": now}
                    exp.rows[body["tid"]] = row
                    self._set_state(exp, body["tid"], row, body["state"])
            return version

    def max_tid(self, exp_key):
        with self._lock:
            exp = self._exp(exp_key)
            return max(exp.rows) if exp is not None and exp.rows else -1

    def reserve(self, owner, exp_key=None):
        """Reserve the NEW trial with the lowest tid (of ``exp_key``; of any when None)."""
        with self._lock:
            if exp_key is not None:
                exp = self._exp(exp_key)
                candidates = [] if exp is None or not exp.new else [(exp, min(exp.new))]
            else:
                self._exp(None)  # refuses a closed store
                candidates = sorted(((exp, tid) for exp in self._experiments.values()
                                     for tid in exp.new),
                                    key=lambda c: c[0].rows[c[1]]["seq"])[:1]
            if not candidates:
                return None
            exp, tid = candidates[0]
            row = exp.rows[tid]
            now = time.time()
            self._set_state(exp, tid, row, JOB_STATE_RUNNING)
            row["doc"]["owner"] = owner
            row["doc"]["attempt"] += 1
            row["heartbeat"] = row["book_time"] = now
            self._touch(exp, tid, row, self._next_version())
            return self._out(row)

    def _owned(self, exp_key, tid, owner, attempt):
        exp = self._exp(exp_key)
        row = None if exp is None else exp.rows.get(tid)
        if row is None:
            return None, None
        doc = row["doc"]
        if (doc["state"], doc["owner"], doc["attempt"]) != (JOB_STATE_RUNNING, owner, attempt):
            return None, None
        return exp, row

    def heartbeat(self, exp_key, tid, owner, attempt):
        # Heartbeats bump no version: readers following changes do not need them.
        with self._lock:
            exp, row = self._owned(exp_key, tid, owner, attempt)
            if row is None:
                return False
            row["heartbeat"] = time.time()
            return True

    def _update_owned(self, exp_key, tid, owner, attempt, update):
        with self._lock:
            exp, row = self._owned(exp_key, tid, owner, attempt)
            if row is None:
                return False
            state = update(row["doc"])
            self._set_state(exp, tid, row, state)
            if state == JOB_STATE_NEW:
                row["doc"]["owner"] = None
            self._touch(exp, tid, row, self._next_version())
            return True

    def checkpoint(self, exp_key, tid, owner, attempt, result):
        result = copy.deepcopy(to_plain(result, "result"))

        def update(doc):
            doc["result"] = result
            return JOB_STATE_RUNNING
        return self._update_owned(exp_key, tid, owner, attempt, update)

    def finish(self, exp_key, tid, owner, attempt, state, result, misc_update=None):
        if state not in (JOB_STATE_DONE, JOB_STATE_ERROR):
            raise ValueError(f"finish: state must be DONE or ERROR, got {state!r}")
        result = copy.deepcopy(to_plain(result, "result"))
        misc_update = copy.deepcopy(to_plain(misc_update or {}, "misc_update"))

        def update(doc):
            doc["result"] = result
            doc["misc"].update(misc_update)
            return state
        return self._update_owned(exp_key, tid, owner, attempt, update)

    def release(self, exp_key, tid, owner, attempt):
        return self._update_owned(exp_key, tid, owner, attempt, lambda doc: JOB_STATE_NEW)

    def requeue_stale(self, exp_key, stale_after, max_attempts, owners=None):
        owners = set(owners or ())
        with self._lock:
            exp = self._exp(exp_key)
            if exp is None:
                return 0, 0
            now = time.time()
            lost = [tid for tid in exp.running
                    if exp.rows[tid]["heartbeat"] < now - stale_after
                    or exp.rows[tid]["doc"]["owner"] in owners]
            requeued = errored = 0
            version = self._next_version() if lost else None
            for tid in sorted(lost):
                row = exp.rows[tid]
                doc = row["doc"]
                if doc["attempt"] >= max_attempts:
                    doc["misc"]["error"] = [
                        "WorkerLost",
                        f"the worker {doc['owner']} stopped sending heartbeats and the trial "
                        f"already had {doc['attempt']} attempts (max_attempts={max_attempts})"]
                    doc["result"] = {"status": "fail", "failure": "worker lost"}
                    self._set_state(exp, tid, row, JOB_STATE_ERROR)
                    errored += 1
                else:
                    self._set_state(exp, tid, row, JOB_STATE_NEW)
                    doc["owner"] = None
                    requeued += 1
                self._touch(exp, tid, row, version)
            return requeued, errored

    def cancel_new(self, exp_key, tids):
        tids = [int(t) for t in tids]
        with self._lock:
            exp = self._exp(exp_key)
            chosen = [] if exp is None else sorted(set(tids) & exp.new)
            if chosen:
                version = self._next_version()
                for tid in chosen:
                    row = exp.rows[tid]
                    self._set_state(exp, tid, row, JOB_STATE_CANCEL)
                    self._touch(exp, tid, row, version)
            return len(chosen)

    def changes_since(self, exp_key, token):
        """Documents whose version is above ``token`` (an int; None reads everything)."""
        since = -1 if token is None else int(token)
        with self._lock:
            exp = self._exp(exp_key)
            if exp is None:
                return [], since
            changed = []
            for row in reversed(exp.rows.values()):
                if row["doc"]["version"] <= since:
                    break
                changed.append(self._out(row))
            changed.reverse()
            return changed, (changed[-1]["version"] if changed else since)

    def get_trials(self, exp_key, tids):
        tids = [int(t) for t in tids]
        with self._lock:
            exp = self._exp(exp_key)
            if exp is None:
                return []
            return [self._out(exp.rows[t]) for t in tids if t in exp.rows]

    def count_by_state(self, exp_key):
        counts = empty_counts()
        with self._lock:
            exp = self._exp(exp_key)
            for row in ([] if exp is None else exp.rows.values()):
                counts[row["doc"]["state"]] += 1
        return counts

    def delete_experiment(self, exp_key):
        with self._lock:
            self._exp(exp_key)
            self._experiments.pop(exp_key, None)

    # -- attachments and experiments ------------------------------------------------------------

    def get_attachment(self, exp_key, name):
        with self._lock:
            exp = self._exp(exp_key)
            return None if exp is None else exp.attachments.get(name)

    def has_attachment(self, exp_key, name):
        with self._lock:
            exp = self._exp(exp_key)
            return exp is not None and name in exp.attachments

    def set_attachment(self, exp_key, name, data):
        data = bytes(data)
        with self._lock:
            self._exp(exp_key, create=True).attachments[name] = data

    def delete_attachment(self, exp_key, name):
        with self._lock:
            exp = self._exp(exp_key)
            return int(exp is not None and exp.attachments.pop(name, None) is not None)

    def attachment_names(self, exp_key):
        with self._lock:
            exp = self._exp(exp_key)
            return [] if exp is None else sorted(exp.attachments)

    def get_experiment(self, exp_key):
        with self._lock:
            exp = self._exp(exp_key)
            return None if exp is None or exp.record is None else copy.deepcopy(exp.record)

    def _store_record(self, exp, info):
        revision = 0 if exp.record is None else exp.record["revision"]
        exp.record = dict(copy.deepcopy(to_plain(info, "experiment record")),
                          revision=revision + 1)

    def set_experiment(self, exp_key, info):
        with self._lock:
            self._store_record(self._exp(exp_key, create=True), info)

    def swap_experiment(self, exp_key, expected, info):
        with self._lock:
            exp = self._exp(exp_key, create=True)
            if exp.record is None or expected is None:
                if exp.record is not None or expected is not None:
                    return False
            elif exp.record["revision"] != expected.get("revision"):
                return False
            self._store_record(exp, info)
            return True

    # -- workers --------------------------------------------------------------------------------

    def register_worker(self, worker_id, info):
        exp_key = validate_exp_key(info.get("exp_key"))
        with self._lock:
            self._exp(exp_key)
            self._workers[worker_id] = (exp_key, copy.deepcopy(to_plain(info)), time.time())

    def unregister_worker(self, worker_id):
        with self._lock:
            self._workers.pop(worker_id, None)

    def live_workers(self, exp_key, within):
        with self._lock:
            self._exp(exp_key)
            since = time.time() - within
            return [dict(copy.deepcopy(info), worker_id=wid)
                    for wid, (key, info, seen) in self._workers.items()
                    if seen >= since and key in (None, exp_key)]

    def close(self):
        """Drop the store's contents; later calls raise :class:`StoreError`."""
        with self._lock:
            self._closed = True
            self._experiments = {}
            self._workers = {}
