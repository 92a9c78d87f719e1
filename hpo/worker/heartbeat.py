"""The heartbeat of a running trial: a thread that tells the store the worker is alive.

The driver requeues a RUNNING trial whose heartbeat is older than its ``stale_after``; so
the thread must outlive any error it meets. A failed beat is logged and the next one is
tried on time; only the store saying that the trial is no longer ours ends the thread.

>>> import os, tempfile
>>> from hpo.stores import open_store
>>> store = open_store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.db"))
>>> doc = {"exp_key": "e", "tid": 0, "attempt": 1}
>>> with Heartbeat(store, doc, owner="w1", every=60) as beat:
...     pass          # the objective runs here
>>> beat.lost         # no beat was due before the trial ended
False
"""

from __future__ import annotations

import logging
import threading

from ..stores import StoreError

logger = logging.getLogger("hpo.worker")


class Heartbeat:
    """Context manager running a daemon thread that refreshes ``doc``'s heartbeat.

    ``every``: seconds between beats. ``on_beat``: called after each successful beat (the
    worker refreshes its registration there). ``lost`` becomes True when the store answers
    that ``owner`` no longer holds the trial (it was requeued); its result will be refused.
    """

    def __init__(self, store, doc, owner, every, on_beat=None):
        if not isinstance(every, (int, float)) or every <= 0:
            raise ValueError(f"every must be a number of seconds > 0, got {every!r}")
        self.store, self.owner, self.every, self.on_beat = store, owner, float(every), on_beat
        self.key = (doc["exp_key"], doc["tid"], owner, doc["attempt"])
        self.lost = False
        self.failures = 0  # beats that raised
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"heartbeat of trial {doc['tid']}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        # A beat in flight may be waiting on the store's retries; the thread is a daemon and
        # its late beat is refused by the store once the trial is finished, so do not block.
        self._thread.join(timeout=self.every)
        return False

    def _run(self):
        exp_key, tid, owner, attempt = self.key
        while not self._stop.wait(self.every):
            try:
                if not self.store.heartbeat(exp_key, tid, owner, attempt):
                    if self._stop.is_set():
                        return  # the trial was finished meanwhile: nothing was lost
                    self.lost = True
                    logger.warning("worker %s: trial %s was requeued while it ran here; its "
                                   "result will be refused", owner, tid)
                    return
                if self.on_beat is not None:
                    self.on_beat()
            except StoreError as e:
                self.failures += 1
                logger.warning("worker %s: heartbeat of trial %s failed: %s", owner, tid, e)
            except Exception:  # noqa: BLE001 -- a dead heartbeat gets a live trial requeued
                self.failures += 1
                logger.exception("worker %s: heartbeat of trial %s failed unexpectedly; "
                                 "still beating", owner, tid)
