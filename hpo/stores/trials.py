"""Trials backed by a job store: :class:`StoreTrials` and Hyperopt's :class:`MongoTrials`.

They are :class:`hpo.base.Trials`, so algorithms, ``best_trial``, ``argmin``, ``losses()`` and
the rest work unchanged; ``fmin(..., trials=StoreTrials(url))`` runs the search loop with the
store executor (:mod:`hpo.executors.store`): trials are queued in the store and evaluated by
``hpo-worker`` processes, or by ``n_workers`` local workers that ``fmin`` starts itself.

>>> import os, tempfile
>>> from hpo import fmin, hp, rand
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "exp.db")
>>> trials = StoreTrials(url, exp_key="demo")
>>> best = fmin(lambda x: (x - 1) ** 2, hp.uniform("x", -2, 2), algo=rand.suggest,
...             max_evals=4, trials=trials, n_workers=2, show_progressbar=False)
>>> len(trials), trials.count_by_state_unsynced(2)
(4, 4)
"""

from __future__ import annotations

from collections.abc import MutableMapping

import logging

from ..base import JOB_FINISHED_STATES, JOB_STATE_CANCEL, JOB_STATE_ERROR, JOB_STATE_NEW, Trials
from . import open_store
from .base import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRY_FOR,
    DuplicateTrialId,
    PayloadVerificationError,
    validate_exp_key,
)
from .payload import (
    DOMAIN_ATTACHMENT,
    decode_value,
    encode_value,
    resolve_secret,
    sign_suggestion,
    verify_result,
)

logger = logging.getLogger(__name__)


class StoreAttachments(MutableMapping):
    """``trials.attachments`` of store-backed trials: a mapping that reads and writes the store.

    Bytes are stored as they are (model weights, files); JSON-able values as JSON; other
    values are pickled (and signed when a secret is configured).
    """

    def __init__(self, store, exp_key, secret=None):
        self._store, self._exp_key, self._secret = store, exp_key, secret

    def __getitem__(self, name):
        data = self._store.get_attachment(self._exp_key, name)
        if data is None:
            raise KeyError(name)
        return decode_value(data, self._secret, name=f"attachment {name!r}")

    def __setitem__(self, name, value):
        if not isinstance(name, str):
            raise TypeError(f"attachment names must be strings, got {name!r}")
        self._store.set_attachment(self._exp_key, name, encode_value(value, self._secret))

    def __delitem__(self, name):
        if not self._store.delete_attachment(self._exp_key, name):
            raise KeyError(name)

    def __iter__(self):
        return iter([n for n in self._store.attachment_names(self._exp_key)
                     if not n.startswith(DOMAIN_ATTACHMENT)])

    def __len__(self):
        return len(list(iter(self)))

    def __contains__(self, name):
        # Presence only: a model's weights are not downloaded to learn that they exist.
        return self._store.has_attachment(self._exp_key, name)


class StoreTrials(Trials):
    """Trials kept in a job store named by a URL (``sqlite:///exp.db``, ``mongo://...``).

    Parameters
    ----------
    url : store URL, or an open :class:`~hpo.stores.JobStore`.
    exp_key : experiment key; experiments in one store are isolated by it.
    refresh : read the experiment's trials now.
    secret : shared secret signing the domain payload (default ``$HPO_SECRET``); workers with
        the same secret refuse payloads they cannot verify.
    stale_after : seconds without a heartbeat after which the driver requeues a RUNNING trial.
    max_attempts : reservations a trial may have; a stale trial that had this many becomes
        ERROR instead of being requeued.
    connect_timeout, retry_for : see :func:`hpo.stores.open_store`.

    >>> import os, tempfile
    >>> trials = StoreTrials("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db"), exp_key="e")
    >>> len(trials)
    0
    """

    asynchronous = True

    def __init__(self, url, exp_key=None, refresh=True, secret=None, stale_after=60.0,
                 max_attempts=5, connect_timeout=DEFAULT_CONNECT_TIMEOUT,
                 retry_for=DEFAULT_RETRY_FOR, workdir=None, cmd=None):
        if not (isinstance(stale_after, (int, float)) and stale_after > 0):
            raise ValueError(f"stale_after must be a number of seconds > 0, got {stale_after!r}")
        if not (isinstance(max_attempts, int) and max_attempts >= 1):
            raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        validate_exp_key(exp_key)
        self._options = dict(secret=secret, stale_after=stale_after, max_attempts=max_attempts,
                             connect_timeout=connect_timeout, retry_for=retry_for,
                             workdir=workdir, cmd=cmd)
        self.store = open_store(url, connect_timeout=connect_timeout, retry_for=retry_for)
        self.url = url if isinstance(url, str) else None
        self.secret = secret
        self.stale_after, self.max_attempts = float(stale_after), max_attempts
        self.workdir = workdir
        self._exp_key = exp_key
        self._secret = resolve_secret(secret)
        self.attachments = StoreAttachments(self.store, exp_key, secret)
        self._token = None
        self.domain_sha256 = None  # set by the driver once the domain is stored
        self._init_records()
        if refresh:
            self.refresh()

    def __getstate__(self):
        if self.url is None:
            raise TypeError("StoreTrials opened on a store object cannot be pickled; pass a URL")
        if self.store.url.scheme == "memory":
            # Unpickled elsewhere it would open a new, empty store: refuse rather than lose.
            raise TypeError("StoreTrials over a memory:// store cannot be pickled: the store "
                            "lives in this process only")
        return {"url": self.url, "exp_key": self._exp_key, "options": self._options}

    def __setstate__(self, state):
        self.__init__(state["url"], exp_key=state["exp_key"], **state["options"])

    def __repr__(self):
        return f"{type(self).__name__}({self.store.url.redacted()!r}, exp_key={self._exp_key!r})"

    # -- reading the store incrementally ---------------------------------------------------------

    def _verified(self, doc):
        """``doc``, or when its result fails the signature check, the same trial as ERROR.

        With a secret, every worker signs the result it writes; a result that does not verify
        (written by someone without the secret) is never used as a loss.
        """
        if doc["state"] not in JOB_FINISHED_STATES or self._secret is None:
            return doc
        if (doc["misc"].get("error") or [None])[0] == "WorkerLost":
            return doc  # written by a driver's requeue, not by a worker: there is no result
        try:
            verify_result(doc, self._secret)
        except PayloadVerificationError as e:
            logger.error("%s; the trial is recorded as failed", e)
            doc = dict(doc, state=JOB_STATE_ERROR,
                       result={"status": "fail", "failure": "unverified result"})
            doc["misc"] = dict(doc["misc"], error=["PayloadVerificationError", str(e)])
        return doc

    def apply_changes(self, docs):
        """Fold changed documents from the store into the local records; returns their tids."""
        changed = []
        for doc in map(self._verified, docs):
            local = self._by_tid.get(doc["tid"])
            if local is None:
                if doc["state"] == JOB_STATE_CANCEL:
                    continue
                Trials.insert_trial_doc(self, doc)
            elif local["state"] in JOB_FINISHED_STATES or local["state"] == JOB_STATE_CANCEL:
                continue  # a finished trial never changes again
            elif local.get("version") == doc.get("version") and local["state"] == doc["state"]:
                continue
            else:
                local.clear()
                local.update(doc)
            if doc["state"] not in JOB_FINISHED_STATES:
                # Reports of running trials, here or in other workers, for the pruners.
                self.reports.observe(doc)
            changed.append(doc["tid"])
        return changed

    def refresh(self):
        """Read the documents changed since the last refresh, then update :attr:`history`."""
        docs, self._token = self.store.changes_since(self._exp_key, self._token)
        changed = self.apply_changes(docs)
        Trials.refresh(self)
        return changed

    def refresh_local(self):
        """Make inserted documents visible without reading the store."""
        Trials.refresh(self)

    def trial_by_tid(self, tid):
        """The local document of trial ``tid``."""
        return self._by_tid[tid]

    def sweep_unfinished(self):
        """Re-read every unfinished trial (a periodic safety net for the incremental reads)."""
        docs = self.store.get_trials(self._exp_key, [d["tid"] for d in self._pending.values()])
        changed = self.apply_changes(docs)
        Trials.refresh(self)
        return changed

    # -- writing -------------------------------------------------------------------------------

    def insert_trial_docs(self, docs):
        """Insert documents into the store (and locally); tids taken meanwhile are renumbered."""
        docs = list(docs)
        for doc in docs:
            doc["exp_key"] = self._exp_key
            doc.setdefault("domain_sha256", self.domain_sha256)
            if self.workdir is not None:
                doc["misc"].setdefault("workdir", self.workdir)
            self.assert_valid_trial(doc)
        for _ in range(10):
            if self._secret is not None:
                for doc in docs:  # signed with their final tids, so after any renumbering
                    doc["misc"]["suggestion_hmac"] = sign_suggestion(doc, self._secret)
            try:
                self.store.insert_trials(docs)
                break
            except DuplicateTrialId:
                first = max(self.store.max_tid(self._exp_key) + 1, self._next_tid)
                for i, doc in enumerate(docs):
                    _renumber(doc, first + i)
                self._next_tid = first + len(docs)
        else:
            raise DuplicateTrialId(f"could not find free trial ids in {self.store.url.redacted()}")
        return [Trials.insert_trial_doc(self, doc) for doc in docs]

    def insert_trial_doc(self, doc):
        return self.insert_trial_docs([doc])[0]

    def delete_all(self):
        """Delete this experiment's trials, attachments and domain from the store."""
        self.store.delete_experiment(self._exp_key)
        self._token = None
        self._init_records()

    def count_by_state_unsynced(self, arg):
        """Number of trials in state ``arg`` (or any of a list of states), read from the store."""
        states = set(arg) if isinstance(arg, (list, tuple, set, frozenset)) else {arg}
        counts = self.store.count_by_state(self._exp_key)
        return sum(n for state, n in counts.items() if state in states)

    @property
    def queued(self):
        """Local documents that are NEW (queued, not reserved yet)."""
        return [d for d in self._pending.values() if d["state"] == JOB_STATE_NEW]


def _renumber(doc, tid):
    doc["tid"] = tid
    doc["misc"]["tid"] = tid
    doc["misc"]["idxs"] = {label: ([tid] if v else []) for label, v in doc["misc"]["vals"].items()}


class MongoTrials(StoreTrials):
    """Hyperopt's ``MongoTrials(arg, exp_key=None, ...)``: trials in MongoDB (pymongo 4).

    ``arg`` is ``mongo://[user:pass@]host:port/db[/collection]`` (collection defaults to
    ``jobs``); run ``hpo-worker --store <arg> --exp-key <exp_key>`` on each machine.

    >>> MongoTrials("sqlite:///x.db")
    Traceback (most recent call last):
    ...
    hpo.stores.base.StoreURLError: MongoTrials needs a mongo:// url, got 'sqlite:///x.db'; use StoreTrials for other stores
    """

    def __init__(self, arg, exp_key=None, cmd=None, workdir=None, refresh=True, **options):
        from .base import StoreURLError

        if not (isinstance(arg, str) and arg.split("://", 1)[0].lower() in ("mongo", "mongodb")):
            raise StoreURLError(
                f"MongoTrials needs a mongo:// url, got {arg!r}; use StoreTrials for other stores"
            )
        super().__init__(arg, exp_key=exp_key, refresh=refresh, workdir=workdir, cmd=cmd, **options)
