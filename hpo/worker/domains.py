"""Fetching, verifying and caching the domains (objective + space) a worker runs.

A trial names the SHA-256 of the domain it was suggested for; a trial inserted by hand (no
hash) runs with its experiment's current domain. Each domain is downloaded once per worker
and checked against its hash and, with a shared secret, its signature before it is unpickled.

Two errors mean "this worker cannot run this trial": :class:`PayloadVerificationError` (the
bytes are missing, changed or not signed with our secret) and :class:`DomainLoadError` (they
verified but do not unpickle here, e.g. the objective's module is not importable). The
worker then puts the trial back and exits, so that a worker that can run it does.

>>> import os, tempfile, threading
>>> from hpo.stores import open_store
>>> cache = DomainCache(open_store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db")))
>>> cache.domain_hash({"exp_key": "e", "tid": 0, "domain_sha256": "ab" * 32}) == "ab" * 32
True
>>> stop = threading.Event(); stop.set()   # a trial without hash, and nothing stored yet
>>> print(cache.domain_hash({"exp_key": "e", "tid": 1}, stop))
None
"""

from __future__ import annotations

import logging

from ..stores import PayloadVerificationError, StoreError
from ..stores.base import Backoff
from ..stores.domain import domain_attachment_name, domain_of_experiment
from ..stores.payload import load_domain_attachment

logger = logging.getLogger("hpo.worker")


class DomainLoadError(StoreError):
    """A domain payload verified but could not be unpickled in this worker."""


class DomainCache:
    """The domains of the experiments a worker serves, by hash.

    ``secret``: the shared secret (default ``$HPO_SECRET``); with one, unsigned and wrongly
    signed payloads are refused.
    """

    def __init__(self, store, secret=None):
        self.store, self.secret = store, secret
        self._domains = {}  # sha256 -> Domain

    def __len__(self):
        return len(self._domains)

    def domain_hash(self, doc, stop=None, poll=0.5):
        """The hash of the domain ``doc`` runs with: its own, else its experiment's current one.

        A trial inserted before any domain was stored waits for one (polling every ``poll``
        seconds at most) until ``stop`` (anything with ``wait(timeout) -> bool``, such as a
        ``threading.Event`` or a :class:`~hpo.worker.stopping.GracefulStop`) says stop; then None.
        """
        sha = doc.get("domain_sha256")
        if sha:
            return sha
        backoff = Backoff(min(0.05, poll), poll)
        while True:
            sha = domain_of_experiment(self.store, doc["exp_key"])
            if sha:
                return sha
            if stop is None or stop.wait(backoff.next()):
                return None

    def get(self, doc, stop=None):
        """The domain to run ``doc`` with (None: no domain stored yet and ``stop`` was set)."""
        sha = self.domain_hash(doc, stop)
        if sha is None:
            if stop is None:
                raise PayloadVerificationError(
                    f"trial {doc['tid']}: experiment {doc['exp_key']!r} in "
                    f"{self.store.url.redacted()} has no domain stored yet")
            return None
        domain = self._domains.get(sha)
        if domain is None:
            domain = self._load(doc, sha)
            self._domains[sha] = domain
        return domain

    def _load(self, doc, sha):
        exp_key = doc["exp_key"]
        where = f"{self.store.url.redacted()} (exp_key {exp_key!r})"
        data = self.store.get_attachment(exp_key, domain_attachment_name(sha))
        if data is None:
            raise PayloadVerificationError(
                f"trial {doc['tid']}: {where} holds no domain with hash {sha[:12]!r}...")
        try:
            domain = load_domain_attachment(data, sha, secret=self.secret, where=where)
        except PayloadVerificationError:
            raise
        except Exception as e:  # unpickling runs arbitrary code: any error means "not here"
            raise DomainLoadError(
                f"the domain of {where} (hash {sha[:12]}...) verified but could not be "
                f"unpickled in this worker: {type(e).__name__}: {e}. An objective defined in a "
                f"module is pickled by reference: make that module importable here (install it "
                f"or add its directory to PYTHONPATH)") from e
        logger.info("loaded domain %s... of exp %r (%d bytes)", sha[:12], exp_key, len(data))
        return domain
