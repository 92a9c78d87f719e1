"""Storing the domain: once per hash, refused for another space, and race-free between drivers."""

from __future__ import annotations

import threading

import pytest

from hpo import Domain, hp
from hpo.base import Trials, new_misc
from hpo.stores import DomainMismatch, open_store
from hpo.stores.domain import domain_attachment_name, domain_of_experiment, store_domain
from hpo.stores.payload import load_domain_attachment, split_signed

from worker_support import quadratic

pytestmark = pytest.mark.timeout(300)

SPACE_X = {"x": hp.uniform("x", -5, 5)}
SPACE_Y = {"y": hp.uniform("y", -5, 5)}


def docs_for(exp_key, sha, tids, label):
    trials = Trials(exp_key=exp_key)
    docs = trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"} for _ in tids],
                                 [new_misc(t, {label: [0.5]}) for t in tids])
    for doc in docs:
        doc["domain_sha256"] = sha
    return docs


def test_store_domain_once_per_hash(job_store, second_client):
    domain = Domain(quadratic, SPACE_X)
    sha = store_domain(job_store, "e", domain)
    record = job_store.get_experiment("e")
    assert record["sha256"] == sha and record["domains"] == {sha: record["space_fingerprint"]}
    assert store_domain(second_client, "e", domain) == sha
    assert job_store.get_experiment("e")["revision"] == record["revision"]  # nothing rewritten
    data = second_client.get_attachment("e", domain_attachment_name(sha))
    assert split_signed(data)[0] is None
    assert load_domain_attachment(data, sha).fn({"x": 3.0}) == 4.0
    assert domain_of_experiment(second_client, "e") == sha
    assert domain_of_experiment(second_client, "other") is None


def test_same_space_with_another_objective_replaces_the_domain(job_store):
    first = store_domain(job_store, "e", Domain(quadratic, SPACE_X))
    job_store.insert_trials(docs_for("e", first, [0], "x"))
    second = store_domain(job_store, "e", Domain(abs, SPACE_X))
    assert second != first and domain_of_experiment(job_store, "e") == second
    record = job_store.get_experiment("e")
    assert set(record["domains"]) == {first, second} and record["used"]
    # Trials of both domains of the same space may still be inserted.
    job_store.insert_trials(docs_for("e", first, [1], "x") + docs_for("e", second, [2], "x"))


def test_a_signed_domain_is_signed_again_when_the_secret_changes(job_store):
    domain = Domain(quadratic, SPACE_X)
    sha = store_domain(job_store, "e", domain, secret="one")
    assert store_domain(job_store, "e", domain, secret="two") == sha
    data = job_store.get_attachment("e", domain_attachment_name(sha))
    load_domain_attachment(data, sha, secret="two")


def test_another_space_is_refused_once_trials_exist(job_store, second_client):
    sha = store_domain(job_store, "e", Domain(quadratic, SPACE_X))
    # Without trials, another space simply replaces the first one.
    other = store_domain(second_client, "e", Domain(quadratic, SPACE_Y))
    assert domain_of_experiment(job_store, "e") == other
    job_store.insert_trials(docs_for("e", other, [0], "y"))
    with pytest.raises(DomainMismatch, match="exp_key 'e'.*1 trials of a different search space"):
        store_domain(second_client, "e", Domain(quadratic, SPACE_X))
    assert domain_of_experiment(job_store, "e") == other != sha


def test_inserting_trials_of_a_replaced_space_is_refused_atomically(job_store, second_client):
    first = store_domain(job_store, "e", Domain(quadratic, SPACE_X))
    second = store_domain(second_client, "e", Domain(quadratic, SPACE_Y))
    with pytest.raises(DomainMismatch, match="another driver stored a different space"):
        job_store.insert_trials(docs_for("e", first, [0, 1], "x"))
    assert sum(job_store.count_by_state("e").values()) == 0
    second_client.insert_trials(docs_for("e", second, [0, 1], "y"))
    assert sum(job_store.count_by_state("e").values()) == 2
    assert job_store.get_experiment("e")["used"]


def test_experiments_without_a_domain_accept_any_trials(job_store):
    job_store.insert_trials(docs_for("e", None, [0], "x") + docs_for("e", "f" * 64, [1], "y"))
    assert sum(job_store.count_by_state("e").values()) == 2


def _race_once(clients, exp_key):
    """Two drivers with different spaces start at once; what each of them got."""
    barrier = threading.Barrier(len(clients))
    outcome = [None] * len(clients)
    spaces = [(SPACE_X, "x"), (SPACE_Y, "y")]

    def driver(i):
        space, label = spaces[i]
        domain = Domain(quadratic, space)
        try:
            barrier.wait(timeout=60)
            sha = store_domain(clients[i], exp_key, domain)
            for batch in range(2):  # the first queue, then one top-up
                tids = [100 * i + 10 * batch + k for k in range(2)]
                clients[i].insert_trials(docs_for(exp_key, sha, tids, label))
            outcome[i] = "passed"
        except DomainMismatch:
            outcome[i] = "refused"
        except Exception as e:  # reported by the assertion below
            outcome[i] = repr(e)

    threads = [threading.Thread(target=driver, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


def test_two_drivers_with_different_spaces_never_both_pass(job_store, second_client):
    for round_ in range(12):
        exp_key = f"race{round_}"
        outcome = _race_once([job_store, second_client], exp_key)
        assert sorted(outcome) == ["passed", "refused"], (round_, outcome)
        winner = "xy"[outcome.index("passed")]
        docs, _ = job_store.changes_since(exp_key, None)
        labels = {label for d in docs for label in d["misc"]["vals"]}
        assert labels == {winner}, (round_, labels)
        assert len(docs) == 4
        record = job_store.get_experiment(exp_key)
        assert record["domains"][record["sha256"]] == record["space_fingerprint"]
        assert {d["domain_sha256"] for d in docs} == {record["sha256"]}


RACER = """
import sys
from hpo import Domain, hp
from hpo.stores import DomainMismatch, open_store
from hpo.stores.domain import store_domain
from test_domain_race import docs_for
from worker_support import quadratic

url, label = sys.argv[1], sys.argv[2]
index = "xy".index(label)
store = open_store(url, connect_timeout=20)
for line in sys.stdin:
    exp_key = line.strip()
    try:
        sha = store_domain(store, exp_key, Domain(quadratic, {label: hp.uniform(label, 0, 1)}))
        for batch in range(2):
            tids = [100 * index + 10 * batch + k for k in range(2)]
            store.insert_trials(docs_for(exp_key, sha, tids, label))
        print("passed", flush=True)
    except DomainMismatch:
        print("refused", flush=True)
"""


def test_two_driver_processes_with_different_spaces_never_both_pass(store_url):
    """Two processes, each told the exp_key of a round at the same moment, race on it."""
    import os
    import subprocess
    import sys

    from worker_support import worker_env

    env = worker_env()
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__)) + os.pathsep + env["PYTHONPATH"]
    procs = [subprocess.Popen([sys.executable, "-c", RACER, store_url, label], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for label in "xy"]
    try:
        for round_ in range(8):
            exp_key = f"race{round_}"
            for p in procs:
                p.stdin.write(exp_key + "\n")
                p.stdin.flush()
            outcome = [p.stdout.readline().strip() for p in procs]
            assert sorted(outcome) == ["passed", "refused"], (round_, outcome)
    finally:
        for p in procs:
            p.stdin.close()
        for p in procs:
            assert p.wait(timeout=60) == 0
    with open_store(store_url, connect_timeout=20) as store:
        for round_ in range(8):
            docs, _ = store.changes_since(f"race{round_}", None)
            assert len({label for d in docs for label in d["misc"]["vals"]}) == 1
