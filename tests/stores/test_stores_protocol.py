"""The job-store protocol, run against the memory store, SQLite and the MongoDB-protocol server."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hpo import JOB_STATE_CANCEL, JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING
from hpo.base import Trials, new_misc
from hpo.stores import DuplicateTrialId, InvalidExpKey, StoreError, open_store
from hpo.stores.trials import StoreTrials

pytestmark = pytest.mark.timeout(120)


def new_docs(tids, exp_key="e"):
    trials = Trials(exp_key=exp_key)
    return trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"} for _ in tids],
                                 [new_misc(t, {"x": [float(t)]}) for t in tids])


@pytest.fixture
def store(job_store):
    return job_store


def client(store):
    """Another client of ``store`` for a thread (the store itself for memory)."""
    return store if store.test_url is None else open_store(store.test_url, connect_timeout=20)


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
    before = {d["tid"]: d["version"] for d in store.get_trials("e", range(5))}
    docs, token2 = store.changes_since("e", token)
    changed = {d["tid"]: d for d in docs}
    assert changed[doc["tid"]]["state"] == JOB_STATE_DONE
    # MongoDB may return recent documents again (a margin for clock races): unchanged ones.
    again = {t: d for t, d in changed.items() if t != doc["tid"]}
    assert all(d["version"] == before[t] for t, d in again.items())
    if store.url.scheme != "mongo":
        assert list(changed) == [doc["tid"]]


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


def test_store_trials_attachments_mapping(store, second_client):
    trials = StoreTrials(store, exp_key="e")
    trials.attachments["weights"] = b"\x00\x01"
    trials.attachments["state"] = {"step": 3, 4: (1.5, None)}
    trials.attachments["array"] = np.arange(4, dtype=np.float32)
    with pytest.raises(TypeError, match="type set.*store bytes"):
        trials.attachments["obj"] = {1, 2}  # no pickle: refused, not stored
    again = StoreTrials(second_client, exp_key="e")
    assert again.attachments["weights"] == b"\x00\x01"
    assert again.attachments["state"] == {"step": 3, 4: (1.5, None)}
    array = again.attachments["array"]
    assert array.dtype == np.float32 and array.tolist() == [0, 1, 2, 3]
    assert "obj" not in again.attachments
    assert again.attachments.setdefault("seed", 7) == 7 and again.attachments["seed"] == 7
    doc = {"tid": 4}
    again.trial_attachments(doc)["model"] = b"m"
    assert trials.trial_attachments(doc)["model"] == b"m"
    assert "model" in trials.trial_attachments(doc).keys()
    del again.attachments["weights"]
    assert "weights" not in trials.attachments


def test_concurrent_reservations_take_each_trial_once(store):
    n_trials, n_threads = 30, 4
    store.insert_trials(new_docs(list(range(n_trials))))
    taken, errors = [], []

    def worker(i):
        s = client(store)
        try:
            while True:
                doc = s.reserve(f"w{i}", "e")
                if doc is None:
                    return
                taken.append(doc["tid"])
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            if s is not store:
                s.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(taken) == list(range(n_trials))


def test_changes_since_sees_trials_inserted_by_another_client(store, second_client):
    """Two drivers on one exp_key follow each other's queue."""
    store.insert_trials(new_docs([0, 1]))
    docs, token = second_client.changes_since("e", None)
    assert sorted(d["tid"] for d in docs) == [0, 1]
    store.insert_trials(new_docs([2, 3]))
    docs, token = second_client.changes_since("e", token)
    assert {2, 3} <= {d["tid"] for d in docs}
    assert all(d["state"] == JOB_STATE_NEW for d in docs)
    # And the other way round, after a read that saw nothing new.
    docs, token_first = store.changes_since("e", None)
    second_client.insert_trials(new_docs([4]))
    docs, _ = store.changes_since("e", token_first)
    assert 4 in {d["tid"] for d in docs}


def test_has_attachment_without_reading_it(store):
    assert not store.has_attachment("e", "k")
    store.set_attachment("e", "k", b"")
    assert store.has_attachment("e", "k")
    assert not store.has_attachment("other", "k")
    store.delete_attachment("e", "k")
    assert not store.has_attachment("e", "k")


@pytest.mark.parametrize("bad", [5, "", b"e", 1.5, {"$ne": None}, ["e"], True])
def test_bad_exp_keys_are_refused_by_every_method(store, bad):
    doc = new_docs([0])[0]
    doc["exp_key"] = bad
    calls = {
        "insert_trials": lambda: store.insert_trials([doc]),
        "max_tid": lambda: store.max_tid(bad),
        "reserve": lambda: store.reserve("w", bad),
        "heartbeat": lambda: store.heartbeat(bad, 0, "w", 1),
        "checkpoint": lambda: store.checkpoint(bad, 0, "w", 1, {}),
        "finish": lambda: store.finish(bad, 0, "w", 1, JOB_STATE_DONE, {}),
        "release": lambda: store.release(bad, 0, "w", 1),
        "requeue_stale": lambda: store.requeue_stale(bad, 1, 1),
        "cancel_new": lambda: store.cancel_new(bad, [0]),
        "changes_since": lambda: store.changes_since(bad, None),
        "get_trials": lambda: store.get_trials(bad, [0]),
        "count_by_state": lambda: store.count_by_state(bad),
        "delete_experiment": lambda: store.delete_experiment(bad),
        "get_attachment": lambda: store.get_attachment(bad, "k"),
        "has_attachment": lambda: store.has_attachment(bad, "k"),
        "set_attachment": lambda: store.set_attachment(bad, "k", b""),
        "delete_attachment": lambda: store.delete_attachment(bad, "k"),
        "attachment_names": lambda: store.attachment_names(bad),
        "get_experiment": lambda: store.get_experiment(bad),
        "set_experiment": lambda: store.set_experiment(bad, {}),
        "swap_experiment": lambda: store.swap_experiment(bad, None, {}),
        "register_worker": lambda: store.register_worker("w", {"exp_key": bad}),
        "live_workers": lambda: store.live_workers(bad, 10),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidExpKey, match=f"got {bad!r}".replace("$", r"\$").replace(
                "[", r"\[")) as info:
            call()
        assert isinstance(info.value, ValueError), name
    assert store.count_by_state(None) == store.count_by_state("e")  # nothing was written


def test_exp_key_none_is_an_experiment_of_its_own(store, second_client):
    store.insert_trials(new_docs([0], exp_key=None))
    store.insert_trials(new_docs([0, 1], exp_key="e"))
    (doc,) = second_client.get_trials(None, [0])
    assert doc["exp_key"] is None
    assert sum(second_client.count_by_state(None).values()) == 1
    assert sum(second_client.count_by_state("e").values()) == 2


def test_swap_experiment_is_a_compare_and_set(store, second_client):
    assert store.get_experiment("e") is None
    assert store.swap_experiment("e", None, {"sha256": "a"})
    assert not second_client.swap_experiment("e", None, {"sha256": "b"})
    first = second_client.get_experiment("e")
    assert first["sha256"] == "a"
    assert store.swap_experiment("e", first, {"sha256": "c"})
    assert not second_client.swap_experiment("e", first, {"sha256": "d"})  # stale revision
    current = second_client.get_experiment("e")
    assert current["sha256"] == "c" and current["revision"] > first["revision"]
    store.set_experiment("e", {"sha256": "z"})
    assert not second_client.swap_experiment("e", current, {"sha256": "d"})
    assert store.get_experiment("e")["sha256"] == "z"


def test_workers_registry(store, second_client):
    store.register_worker("w1", {"exp_key": "e", "host": "h"})
    store.register_worker("w2", {"exp_key": None, "host": "h"})
    store.register_worker("w3", {"exp_key": "other", "host": "h"})
    live = second_client.live_workers("e", within=60)
    assert sorted(w["worker_id"] for w in live) == ["w1", "w2"]
    assert {w["host"] for w in live} == {"h"}
    store.unregister_worker("w1")
    assert [w["worker_id"] for w in second_client.live_workers("e", within=60)] == ["w2"]


def test_results_are_stored_as_plain_values(store):
    store.insert_trials(new_docs([0]))
    doc = store.reserve("w", "e")
    result = {"loss": np.float32(0.5), "status": "ok", "curve": np.arange(2), "inf": float("inf")}
    assert store.finish("e", 0, "w", doc["attempt"], JOB_STATE_DONE, result,
                        {"note": np.int64(3)})
    (done,) = store.get_trials("e", [0])
    assert done["result"] == {"loss": 0.5, "status": "ok", "curve": [0, 1], "inf": float("inf")}
    assert type(done["result"]["loss"]) is float and done["misc"]["note"] == 3


def test_memory_urls_open_new_empty_stores():
    a, b = open_store("memory://"), open_store("memory://")
    a.insert_trials(new_docs([0]))
    assert sum(b.count_by_state("e").values()) == 0
    a.close()
    with pytest.raises(StoreError, match="closed"):
        a.count_by_state("e")


def test_store_trials_over_a_memory_store_refuse_to_be_pickled():
    import pickle

    from hpo.stores import StoreTrials

    trials = StoreTrials("memory://", exp_key="m")
    with pytest.raises(TypeError, match="memory:// store cannot be pickled"):
        pickle.dumps(trials)


def test_local_workers_are_refused_for_a_memory_store():
    from hpo import fmin, hp
    from hpo.exceptions import InvalidFminArgument
    from hpo.stores import StoreTrials

    with pytest.raises(InvalidFminArgument, match="memory:// store lives in this process only"):
        fmin(abs, hp.uniform("x", -1, 1), trials=StoreTrials("memory://", exp_key="m"),
             max_evals=2, n_workers=2, show_progressbar=False)
