"""The job-store protocol, run against SQLite and the MongoDB-protocol test server."""

from __future__ import annotations

import threading
import time

import pytest

from hpo import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING
from hpo.base import Trials, new_misc
from hpo.stores import DuplicateTrialId, open_store
from hpo.stores.trials import StoreTrials

pytestmark = pytest.mark.timeout(120)


def new_docs(tids, exp_key="e"):
    trials = Trials(exp_key=exp_key)
    return trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"} for _ in tids],
                                 [new_misc(t, {"x": [float(t)]}) for t in tids])


@pytest.fixture
def store(store_url):
    s = open_store(store_url, connect_timeout=20)
    yield s
    s.close()


def test_reserve_finish_and_counts(store):
    store.insert_trials(new_docs([0, 1, 2]))
    assert store.count_by_state("e")[JOB_STATE_NEW] == 3
    doc = store.reserve("w1", "e")
    assert (doc["tid"], doc["state"], doc["owner"], doc["attempt"]) == (0, JOB_STATE_RUNNING, "w1", 1)
    assert doc["misc"]["vals"] == {"x": [0.0]}
    assert store.heartbeat("e", 0, "w1", 1)
    assert not store.heartbeat("e", 0, "w2", 1)  # not the owner
    assert store.finish("e", 0, "w1", 1, JOB_STATE_DONE, {"loss": 0.5, "status": "ok"})
    assert not store.finish("e", 0, "w1", 1, JOB_STATE_DONE, {"loss": 9.0, "status": "ok"})
    counts = store.count_by_state("e")
    assert counts[JOB_STATE_DONE] == 1 and counts[JOB_STATE_NEW] == 2
    (done,) = store.get_trials("e", [0])
    assert done["result"] == {"loss": 0.5, "status": "ok"}


def test_duplicate_tid_is_refused_and_nothing_half_inserted(store):
    store.insert_trials(new_docs([0, 1]))
    with pytest.raises(DuplicateTrialId):
        store.insert_trials(new_docs([2, 1]))
    assert sum(store.count_by_state("e").values()) == 2
    assert store.max_tid("e") == 1


def test_experiments_are_isolated(store):
    store.insert_trials(new_docs([0], exp_key="a"))
    store.insert_trials(new_docs([0], exp_key="b"))
    assert store.reserve("w", "b")["exp_key"] == "b"
    assert store.reserve("w", "b") is None
    assert store.reserve("w", "a")["exp_key"] == "a"
    store.set_attachment("a", "k", b"in a")
    assert store.get_attachment("b", "k") is None
    store.delete_experiment("a")
    assert sum(store.count_by_state("a").values()) == 0
    assert sum(store.count_by_state("b").values()) == 1


def test_late_write_of_requeued_trial_is_refused(store):
    store.insert_trials(new_docs([0]))
    first = store.reserve("slow-worker", "e")
    # Its heartbeat is "stale" at once with stale_after=0 (after a tick of the clock).
    time.sleep(0.01)
    assert store.requeue_stale("e", stale_after=0.001, max_attempts=5) == (1, 0)
    second = store.reserve("fast-worker", "e")
    assert second["attempt"] == 2
    assert store.finish("e", 0, "fast-worker", 2, JOB_STATE_DONE, {"loss": 1.0, "status": "ok"})
    assert not store.finish("e", 0, "slow-worker", first["attempt"], JOB_STATE_DONE,
                            {"loss": -1.0, "status": "ok"})
    (doc,) = store.get_trials("e", [0])
    assert doc["result"]["loss"] == 1.0 and doc["owner"] == "fast-worker"


def test_stale_trial_becomes_error_after_max_attempts(store):
    store.insert_trials(new_docs([0]))
    for attempt in (1, 2):
        doc = store.reserve(f"w{attempt}", "e")
        assert doc["attempt"] == attempt
        time.sleep(0.01)
        store.requeue_stale("e", stale_after=0.001, max_attempts=2)
    (doc,) = store.get_trials("e", [0])
    assert doc["state"] == JOB_STATE_ERROR
    assert doc["misc"]["error"][0] == "WorkerLost"


def test_requeue_by_owner_and_fresh_heartbeats_are_kept(store):
    store.insert_trials(new_docs([0, 1]))
    store.reserve("dead", "e")
    store.reserve("alive", "e")
    assert store.requeue_stale("e", stale_after=3600, max_attempts=5, owners=["dead"]) == (1, 0)
    states = {d["tid"]: d["state"] for d in store.get_trials("e", [0, 1])}
    assert states == {0: JOB_STATE_NEW, 1: JOB_STATE_RUNNING}


def test_release_and_cancel(store):
    store.insert_trials(new_docs([0, 1]))
    doc = store.reserve("w", "e")
    assert store.release("e", doc["tid"], "w", doc["attempt"])
    assert store.cancel_new("e", [0, 1]) == 2
    assert store.count_by_state("e")[JOB_STATE_CANCEL] == 2
    assert store.reserve("w", "e") is None


def test_changes_since_reads_only_changed_documents(store):
    store.insert_trials(new_docs(list(range(5))))
    docs, token = store.changes_since("e", None)
    assert sorted(d["tid"] for d in docs) == [0, 1, 2, 3, 4]
    doc = store.reserve("w", "e")
    store.finish("e", doc["tid"], "w", doc["attempt"], JOB_STATE_DONE, {"loss": 1, "status": "ok"})
    docs, token2 = store.changes_since("e", token)
    assert {d["tid"] for d in docs} == {doc["tid"]}
    assert [d["state"] for d in docs] == [JOB_STATE_DONE]


def test_attachments_small_and_large(store):
    store.set_attachment("e", "small", b"abc")
    big = bytes(range(256)) * (5 * 4096 + 7)  # > 5 MB: GridFS on MongoDB
    store.set_attachment("e", "big", big)
    assert store.get_attachment("e", "small") == b"abc"
    assert store.get_attachment("e", "big") == big
    store.set_attachment("e", "big", b"smaller now")
    assert store.get_attachment("e", "big") == b"smaller now"
    assert store.attachment_names("e") == ["big", "small"]
    assert store.delete_attachment("e", "small") == 1
    assert store.get_attachment("e", "small") is None


def test_store_trials_attachments_mapping(store_url):
    trials = StoreTrials(store_url, exp_key="e")
    trials.attachments["weights"] = b"\x00\x01"
    trials.attachments["state"] = {"step": 3}
    trials.attachments["obj"] = {1, 2}  # not JSON: pickled
    again = StoreTrials(store_url, exp_key="e")
    assert again.attachments["weights"] == b"\x00\x01"
    assert again.attachments["state"] == {"step": 3}
    assert again.attachments["obj"] == {1, 2}
    assert again.attachments.setdefault("seed", 7) == 7 and again.attachments["seed"] == 7
    doc = {"tid": 4}
    again.trial_attachments(doc)["model"] = b"m"
    assert trials.trial_attachments(doc)["model"] == b"m"
    assert "model" in trials.trial_attachments(doc).keys()
    del again.attachments["weights"]
    assert "weights" not in trials.attachments


def test_concurrent_reservations_take_each_trial_once(store_url):
    n_trials, n_threads = 30, 4
    with open_store(store_url, connect_timeout=20) as s:
        s.insert_trials(new_docs(list(range(n_trials))))
    taken, errors = [], []

    def worker(i):
        try:
            with open_store(store_url, connect_timeout=20) as s:
                while True:
                    doc = s.reserve(f"w{i}", "e")
                    if doc is None:
                        return
                    taken.append(doc["tid"])
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(taken) == list(range(n_trials))
