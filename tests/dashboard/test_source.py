"""Sources follow stores and journals incrementally and name what they cannot open."""

import os

import numpy as np
import pytest
from dashboard_support import copy_experiments

from hpo import fmin, hp, rand
from hpo.dashboard.source import SourceError, UnknownExperiment, open_source
from hpo.stores import open_store


def test_store_source_lists_experiments_and_reads_only_changes(filled_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    copy_experiments(filled_url, url, ["demo", "other"])
    source = open_source(url)
    assert source.experiments() == ["demo", "other"]
    assert sorted(source.update("demo")) == list(range(30))
    assert source.update("demo") == []  # nothing changed: nothing read again
    assert len(source.trials("demo").trials) == 30
    # A new trial written by another client is the only one the next update returns.
    store = open_store(url)
    doc = dict(source.trials("demo").trial_by_tid(0), tid=1000, state=0, result={"status": "new"})
    doc["misc"] = dict(doc["misc"], tid=1000, idxs={})
    for key in ("owner", "book_time", "refresh_time", "version", "attempt", "heartbeat"):
        doc.pop(key, None)
    store.insert_trials([doc])
    try:
        assert source.update("demo") == [1000]
        assert store.cancel_new("demo", [1000]) == 1
        assert source.update("demo") == [1000]
        assert 1000 not in source.trials("demo").tids  # cancelled trials leave the record
    finally:
        store.close()
        source.close()


def test_unknown_experiment_and_missing_store_are_named(filled_url, tmp_path):
    source = open_source(filled_url)
    with pytest.raises(UnknownExperiment, match="no experiment with exp_key 'nope'; experiments "
                                                "here: 'demo', 'other'"):
        source.check("nope")
    with pytest.raises(SourceError, match="holds 2 experiments .*choose one with --exp-key"):
        source.default_experiment()
    source.close()
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(SourceError, match="missing.db' does not exist"):
        open_source(missing)
    assert not (tmp_path / "missing.db").exists()  # never created by looking at it
    with pytest.raises(SourceError, match="unknown scheme 'redis'"):
        open_source("redis://localhost/0")
    not_a_journal = tmp_path / "notes.txt"
    not_a_journal.write_text("hello\n")
    with pytest.raises(SourceError, match="neither a store url nor an hpo trials journal"):
        open_source(str(not_a_journal))


def test_unreachable_mongo_is_named():
    pytest.importorskip("pymongo")
    with pytest.raises(SourceError,
                       match="cannot reach the MongoDB server of 'mongo://127.0.0.1:9/db/jobs'"):
        open_source("mongo://127.0.0.1:9/db/jobs", connect_timeout=0.5)


def test_journal_is_read_as_it_grows(tmp_path):
    """While a search appends to its journal, each update reads only the new records."""
    path = str(tmp_path / "search.jsonl")
    seen = []

    def objective(x):
        if os.path.exists(path):
            source = seen[0] if seen else open_source(path)
            if not seen:
                seen.append(source)
            seen.append(sorted(source.update(None)))
        return x ** 2

    fmin(objective, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=6,
         trials_save_file=path, show_progressbar=False, rstate=np.random.default_rng(0))
    updates = seen[1:]
    assert len(updates) == 6
    assert updates[0] == [0]  # the first trial, queued
    # Each trial is recorded twice (queued, then finished); an update sees only the records
    # appended since the previous one, never the whole file again.
    assert all(len(u) <= 2 for u in updates[1:]), updates
    source = seen[0]
    source.update(None)  # the search ended: the journal was compacted into a new file
    assert len(source.trials(None).history) == 6
    assert source.trials(None).history.best_loss == min(
        t["result"]["loss"] for t in source.trials(None).trials)


@pytest.mark.mongo
def test_mongo_source_lists_experiments_and_follows_them(mongo_url, filled_url, capsys):
    """The same experiments copied into MongoDB through the store protocol."""
    from hpo.cli import main

    copy_experiments(filled_url, mongo_url, ["demo", "other"])
    source = open_source(mongo_url)
    try:
        assert source.experiments() == ["demo", "other"]
        assert sorted(source.update("demo")) == list(range(30))
        assert source.update("demo") == []
    finally:
        source.close()
    assert main(["ls", mongo_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:4] for line in lines[1:]] == [["demo", "0", "0", "30"],
                                                         ["other", "0", "0", "5"]]
