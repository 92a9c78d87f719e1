"""What only the MongoDB store has to get right: GridFS attachments, document size limits."""

from __future__ import annotations

import threading

import pytest

from hpo import JOB_STATE_ERROR, JOB_STATE_RUNNING
from hpo.stores import ResultTooLarge, StoreError, parse_store_url
from hpo.stores.domain import store_domain

from test_domain_race import SPACE_X, docs_for
from worker_support import quadratic

pytestmark = [pytest.mark.mongo, pytest.mark.timeout(300)]


def mongo_store(url, **kwargs):
    pytest.importorskip("pymongo")
    from hpo.stores.mongo import MongoStore

    return MongoStore(parse_store_url(url), connect_timeout=20, **kwargs)


@pytest.fixture
def store(mongo_url):
    s = mongo_store(mongo_url, gridfs_threshold=1024)
    yield s
    s.close()


def gridfs_files(store):
    return store.db[f"{store.url.collection}_fs.files"].count_documents({})


def test_concurrent_writers_of_a_gridfs_attachment_leak_nothing(store, mongo_url):
    """Two writers replace one large attachment while a reader reads it."""
    n_writes = 25
    values = {bytes([w, i]) * 1500 for w in (1, 2) for i in range(n_writes)}
    store.set_attachment("e", "weights", bytes([0, 0]) * 1500)
    errors, seen = [], []
    writing = threading.Event()
    writing.set()

    def writer(w):
        s = mongo_store(mongo_url, gridfs_threshold=1024)
        try:
            for i in range(n_writes):
                s.set_attachment("e", "weights", bytes([w, i]) * 1500)
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            s.close()

    def reader():
        s = mongo_store(mongo_url, gridfs_threshold=1024)
        try:
            while writing.is_set():
                seen.append(s.get_attachment("e", "weights"))
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            s.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in (1, 2)]
    read = threading.Thread(target=reader)
    read.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writing.clear()
    read.join()
    assert not errors, errors
    assert seen and all(v in values or v == bytes([0, 0]) * 1500 for v in seen)
    assert store.get_attachment("e", "weights") in values
    assert gridfs_files(store) == 1
    store.set_attachment("e", "weights", b"small now")  # back inline: the file goes
    assert gridfs_files(store) == 0
    assert store.get_attachment("e", "weights") == b"small now"


def test_has_attachment_does_not_download(store):
    store.set_attachment("e", "big", b"x" * 5000)
    chunks = store.db[f"{store.url.collection}_fs.chunks"]
    assert store.has_attachment("e", "big")
    # With the chunks gone, a download would fail; has_attachment does not read them.
    chunks.delete_many({})
    assert store.has_attachment("e", "big")


def test_delete_experiment_removes_files_of_writers_that_died(store):
    store.set_attachment("e", "kept", b"k" * 5000)
    # A writer that died after writing the file, before pointing the attachment at it:
    store.fs.put(b"o" * 5000, filename="lost", metadata={"hpo": True, "exp_key": "e",
                                                          "name": "lost"})
    store.set_attachment("other", "big", b"b" * 5000)
    assert gridfs_files(store) == 3
    store.delete_experiment("e")
    assert gridfs_files(store) == 1
    assert store.get_attachment("other", "big") == b"b" * 5000


def _running_trial(store):
    sha = store_domain(store, "e", __import__("hpo").Domain(quadratic, SPACE_X))
    store.insert_trials(docs_for("e", sha, [0], "x"))
    return store.reserve("w", "e")


def test_a_result_too_large_for_a_document_writes_nothing(store):
    doc = _running_trial(store)
    huge = {"loss": 1.0, "status": "ok", "log": "x" * (20 * 1024 * 1024)}
    with pytest.raises(ResultTooLarge, match=r"trial 0 \(exp_key 'e'\).*too large") as info:
        store.finish("e", 0, "w", doc["attempt"], 2, huge, {"note": "n"})
    assert isinstance(info.value, ValueError) and isinstance(info.value, StoreError)
    assert len(str(info.value)) < 1000  # small enough to record as the trial's error
    with pytest.raises(ResultTooLarge):
        store.checkpoint("e", 0, "w", doc["attempt"], huge)
    (still,) = store.get_trials("e", [0])
    assert still["state"] == JOB_STATE_RUNNING and still["result"] == {"status": "new"}
    assert "note" not in still["misc"]
    # What a worker does next: record the trial as failed, with a small result.
    assert store.finish("e", 0, "w", doc["attempt"], JOB_STATE_ERROR,
                        {"status": "fail", "failure": str(info.value)},
                        {"error": ["ResultTooLarge", str(info.value)]})
    (failed,) = store.get_trials("e", [0])
    assert failed["state"] == JOB_STATE_ERROR and failed["misc"]["error"][0] == "ResultTooLarge"


def test_records_written_before_revisions_are_swapped(store):
    # An experiment record as earlier versions wrote it: no revision, no domains map.
    store.experiments.insert_one({"_id": "e", "info": {"sha256": "old",
                                                       "space_fingerprint": "old-space"}})
    assert store.get_experiment("e")["revision"] == 0
    sha = store_domain(store, "e", __import__("hpo").Domain(quadratic, SPACE_X))
    record = store.get_experiment("e")
    assert record["sha256"] == sha and record["revision"] == 1
