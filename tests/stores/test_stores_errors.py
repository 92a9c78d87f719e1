"""Bad input and hostile data: URLs, unreachable servers, credentials, foreign files, payloads."""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
import subprocess
import sys

import pytest

from hpo import JOB_STATE_DONE, JOB_STATE_NEW, fmin, hp, rand
from hpo.base import Domain
from hpo.stores import (
    DomainMismatch,
    NotAnHpoStore,
    StoreAuthError,
    StoreOpenError,
    StoreUnavailable,
    StoreURLError,
    open_store,
    parse_store_url,
)
from hpo.stores.domain import store_domain
from hpo.stores.payload import DOMAIN_ATTACHMENT
from hpo.stores.trials import MongoTrials, StoreTrials
from hpo.worker.exits import EXIT_UNAVAILABLE, EXIT_UNVERIFIED
from mongo_server import MONGO_URL_ENV, MongoTestServer, free_port
from worker_support import SPACE, quadratic, start_worker, worker_env

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("url, message", [
    ("sqlite://exp.db", "three slashes"),
    ("sqlite:///", "three slashes"),
    ("sqlite:///:memory:", "workers in other processes cannot share it"),
    ("memory://name", "a memory store has no name"),
    ("exp.db", "no scheme"),
    ("mongo://:27017/db", "names no host"),
    ("mongo://localhost:port/db", "malformed"),
    ("mongo://localhost:27017", "names no database"),
    ("mongo://localhost:27017/db/jobs/extra", "expected /db or /db/collection"),
    ("redis://localhost:6379/0", "unknown scheme 'redis'"),
    (42, "must be a string"),
])
def test_malformed_and_unknown_urls_name_the_url(url, message):
    with pytest.raises(StoreURLError, match=message):
        open_store(url)


def test_password_is_not_shown_in_errors():
    with pytest.raises(StoreURLError) as info:
        parse_store_url("mongo://user:hunter2@localhost:port/db")
    assert "hunter2" not in str(info.value)
    assert parse_store_url("mongo://u:p%40ss@h:1/d").password == "p@ss"


def test_mongo_trials_needs_a_mongo_url(sqlite_url):
    with pytest.raises(StoreURLError, match="MongoTrials needs a mongo:// url"):
        MongoTrials(sqlite_url)


def test_unreachable_server_fails_after_bounded_retries():
    pytest.importorskip("pymongo")
    url = f"mongo://127.0.0.1:{free_port()}/db/jobs"
    with pytest.raises(StoreUnavailable, match="cannot reach the MongoDB server"):
        open_store(url, connect_timeout=1.0)
    # The worker command says so and exits instead of hanging.
    proc = subprocess.run([sys.executable, "-m", "hpo.cli", "worker", "--store", url,
                           "--connect-timeout", "1"],
                          env=worker_env(), capture_output=True, text=True, timeout=90)
    assert proc.returncode == EXIT_UNAVAILABLE and "cannot reach the MongoDB server" in proc.stderr


def test_sqlite_in_a_missing_directory(tmp_path):
    with pytest.raises(StoreOpenError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/no/such/dir/exp.db")


@pytest.mark.parametrize("content", ["text", "other-sqlite", "directory"])
def test_a_file_that_is_not_an_hpo_store_is_refused_and_untouched(tmp_path, content):
    path = tmp_path / "data.db"
    if content == "text":
        path.write_text("name,score\nalice,3\n" * 100)
    elif content == "other-sqlite":
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE users (name TEXT)")
            c.execute("INSERT INTO users VALUES ('alice')")
    else:
        path.mkdir()
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(NotAnHpoStore, match="not an hpo job store|is a directory"):
        StoreTrials(f"sqlite:///{path}")
    if before is not None:
        assert path.read_bytes() == before


@pytest.mark.mongo
def test_a_collection_that_is_not_an_hpo_store_is_refused(mongo_server):
    import pymongo

    url = mongo_server.url("foreign_db", "people")
    parsed = parse_store_url(url)
    client = pymongo.MongoClient(host=parsed.host, port=parsed.port)
    client["foreign_db"]["people"].insert_one({"name": "alice"})
    client.close()
    with pytest.raises(NotAnHpoStore, match="no hpo format marker"):
        open_store(url, connect_timeout=20)


def test_an_exp_key_with_a_different_space_is_refused(store_url):
    trials = StoreTrials(store_url, exp_key="e")
    fmin(quadratic, SPACE, algo=rand.suggest, max_evals=2, trials=trials, n_workers=1,
         show_progressbar=False)
    other = {"x": hp.uniform("x", -5, 50), "y": hp.choice("y", [1, 2])}
    with pytest.raises(DomainMismatch, match="exp_key 'e'.*different search space"):
        fmin(quadratic, other, algo=rand.suggest, max_evals=4, trials=StoreTrials(store_url,
             exp_key="e"), n_workers=1, show_progressbar=False)
    # Another exp_key in the same store is fine, and the same space may be resumed.
    fmin(quadratic, other, algo=rand.suggest, max_evals=1,
         trials=StoreTrials(store_url, exp_key="f"), n_workers=1, show_progressbar=False)
    fmin(quadratic, SPACE, algo=rand.suggest, max_evals=3, trials=StoreTrials(
        store_url, exp_key="e"), n_workers=1, show_progressbar=False)


class _Evil:
    """Unpickling this creates a marker file: proof that a payload's code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant_evil_payload(trials, marker, signature=b"0" * 64):
    """What an attacker with write access does: a new payload and a trial pointing at it."""
    blob = pickle.dumps(_Evil(str(marker)))
    sha = hashlib.sha256(blob).hexdigest()
    trials.store.set_attachment(trials.exp_key, f"{DOMAIN_ATTACHMENT}::{sha}", signature + blob)
    domain = Domain(quadratic, SPACE)
    docs = rand.suggest(trials.new_trial_ids(1), domain, trials, 0)
    docs[0]["domain_sha256"] = sha
    trials.insert_trial_docs(docs)
    return docs[0]["tid"]


def test_tampered_payload_is_refused_by_a_worker_with_the_secret(sqlite_url, tmp_path):
    trials = StoreTrials(sqlite_url, exp_key="e", secret="s3cret")
    fmin(quadratic, SPACE, algo=rand.suggest, max_evals=2, trials=trials, n_workers=1,
         show_progressbar=False)  # the signed payload works
    assert trials.count_by_state_unsynced(JOB_STATE_DONE) == 2
    marker = tmp_path / "pwned"
    tid = _plant_evil_payload(trials, marker)
    log = tmp_path / "worker.log"
    proc = start_worker(sqlite_url, "e", secret="s3cret", log=str(log))
    assert proc.wait(timeout=60) == EXIT_UNVERIFIED
    assert not marker.exists()
    assert "does not carry a valid signature" in log.read_text()
    (doc,) = trials.store.get_trials("e", [tid])
    assert doc["state"] == JOB_STATE_NEW and doc["result"] == {"status": "new"}  # put back


def test_signed_payload_needs_the_secret_and_changed_bytes_are_refused(sqlite_url, tmp_path):
    trials = StoreTrials(sqlite_url, exp_key="e", secret="s3cret")
    domain = Domain(quadratic, SPACE)
    sha = trials.domain_sha256 = store_domain(trials.store, "e", domain, trials.secret)
    trials.insert_trial_docs(rand.suggest(trials.new_trial_ids(1), domain, trials, 0))
    log = tmp_path / "nosecret.log"
    assert start_worker(sqlite_url, "e", log=str(log)).wait(timeout=60) == EXIT_UNVERIFIED
    assert "is signed but this process has no secret" in log.read_text()

    plain = StoreTrials(sqlite_url, exp_key="plain")  # no secret anywhere
    sha = plain.domain_sha256 = store_domain(plain.store, "plain", domain)
    plain.insert_trial_docs(rand.suggest(plain.new_trial_ids(1), domain, plain, 0))
    name = f"{DOMAIN_ATTACHMENT}::{sha}"
    stored = plain.store.get_attachment("plain", name)
    plain.store.set_attachment("plain", name, stored[:64] + pickle.dumps(_Evil(str(tmp_path / "x"))))
    log = tmp_path / "changed.log"
    assert start_worker(sqlite_url, "plain", log=str(log)).wait(timeout=60) == EXIT_UNVERIFIED
    assert "was changed after it was stored" in log.read_text()
    assert not (tmp_path / "x").exists()


@pytest.mark.mongo
def test_wrong_credentials_are_reported(tmp_path):
    if os.environ.get(MONGO_URL_ENV):
        pytest.skip("provisions users on its own server; not run against $HPO_TEST_MONGO_URL")
    import pymongo

    server = MongoTestServer(tmp_path / "auth").start()
    try:
        client = pymongo.MongoClient(host=server.host, port=server.port)
        client["hpo"].command("createUser", "alice", pwd="right", roles=["readWrite"])
        client.close()
        server.stop()
        server.auth = True
        server.start()
        with pytest.raises(StoreAuthError, match="refused the credentials.*'alice'") as info:
            open_store(server.url("hpo", user="alice", password="wrong"), connect_timeout=10)
        assert "wrong" not in str(info.value)
        with open_store(server.url("hpo", user="alice", password="right"),
                        connect_timeout=10) as store:
            assert sum(store.count_by_state("e").values()) == 0
    finally:
        server.stop()
