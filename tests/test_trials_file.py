"""The trials_save_file journal: constant cost per trial, one space, no code run on load."""

import os
import pickle

import numpy as np
import pytest

from hpo import Trials, fmin, hp, rand
from hpo.exceptions import TrialsFileError
from hpo.stores import DomainMismatch
from hpo.trials_file import load_trials

SPACE = hp.uniform("x", -1, 1)


def search(path, max_evals, space=SPACE, fn=lambda x: x ** 2, trials=None, **kwargs):
    return fmin(fn, space, algo=rand.suggest, max_evals=max_evals, trials=trials,
                trials_save_file=str(path), show_progressbar=False,
                rstate=np.random.default_rng(0), **kwargs)


def test_each_trial_appends_records_and_never_rewrites_the_file(tmp_path):
    path = tmp_path / "search.jsonl"
    sizes = []

    def fn(x):
        # The journal as it stands while a trial runs: nothing is rewritten between trials,
        # the file only grows by the records of the trials before.
        sizes.append(path.stat().st_size)
        return x ** 2

    search(path, 40, fn=fn)
    growth = np.diff(sizes)
    assert (growth > 0).all()
    # every trial adds the same kind of records (its insertion and its result): the same
    # number of bytes within a few characters, however long the search already is
    assert growth.max() - growth.min() < 40
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1 + 40  # compacted at the end: the header and one line per trial


def test_a_journal_of_another_space_is_refused(tmp_path):
    path = tmp_path / "search.jsonl"
    search(path, 5)
    with pytest.raises(DomainMismatch, match="already holds 5 trials of a different search space"):
        search(path, 10, space=hp.uniform("x", -2, 2))
    assert len(load_trials(path)) == 5


def test_a_pickled_trials_file_is_refused_without_running_it(tmp_path):
    path, marker = tmp_path / "search.pkl", tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(TrialsFileError, match="not an hpo trials journal"):
        search(path, 5)
    assert not marker.exists()


def test_the_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "search.jsonl"
    search(path, 3)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_torn_last_record_is_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "search.jsonl"
    search(path, 6)
    path.write_bytes(path.read_bytes() + b'{"doc": {"tid": 6, "sta')
    trials = Trials()
    search(path, 8, trials=trials)
    assert "cut short" in caplog.text
    assert trials.tids == list(range(8))


def test_attachments_keep_their_values_and_types(tmp_path):
    path = tmp_path / "search.jsonl"

    def fn(x, ctrl=None):
        return x ** 2

    trials = Trials()
    trials.attachments["state"] = {"counts": (1, 2), 3: np.arange(3)}
    search(path, 4, trials=trials)
    loaded = load_trials(path)
    state = loaded.attachments["state"]
    assert state["counts"] == (1, 2) and list(state[3]) == [0, 1, 2]


def test_an_attachment_that_cannot_be_saved_is_named(tmp_path):
    trials = Trials()
    trials.attachments["model"] = object()
    with pytest.raises(TypeError, match="attachment 'model' cannot be saved"):
        search(tmp_path / "search.jsonl", 2, trials=trials)
