"""What only the SQLite store has to get right: files, permissions, a full disk, old libraries."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess

import pytest

from hpo.base import Trials, new_misc
from hpo.stores import (
    InvalidExpKey,
    StoreError,
    StoreFull,
    StoreOpenError,
    StoreReadOnly,
    StoreURLError,
    open_store,
    parse_store_url,
)
from hpo.stores.sqlite import SQLiteStore, SQLiteTooOld, check_sqlite_version


def new_docs(tids, exp_key="e"):
    trials = Trials(exp_key=exp_key)
    return trials.new_trial_docs(tids, [None] * len(tids), [{"status": "new"} for _ in tids],
                                 [new_misc(t, {"x": [float(t)]}) for t in tids])


@pytest.fixture
def unwritable():
    """Makes a path unwritable for this process, root included (chattr +i), and undoes it."""
    made = []

    def make(path):
        path = str(path)
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", path], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"running as root and cannot make {path} immutable: {done.stderr}")
        else:
            os.chmod(path, 0o500 if os.path.isdir(path) else 0o400)
        made.append(path)

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", path], check=True)
        else:
            os.chmod(path, 0o700 if os.path.isdir(path) else 0o600)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_are_private_to_their_owner(tmp_path):
    path = tmp_path / "exp.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.insert_trials(new_docs([0]))
        store.set_attachment("e", "k", b"v")
        # While the store is open, SQLite keeps its -wal and -shm files next to the database.
        for name in ("exp.db", "exp.db-wal", "exp.db-shm"):
            assert (tmp_path / name).exists(), name
            assert mode(tmp_path / name) == 0o600, name
    finally:
        store.close()


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "exp.db"
    open_store(f"sqlite:///{path}").close()
    os.chmod(path, 0o640)
    with open_store(f"sqlite:///{path}") as store:
        store.set_attachment("e", "k", b"v")
    assert mode(path) == 0o640


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///", "sqlite:///:memory:?x=1"])
def test_in_memory_sqlite_urls_are_refused(url):
    with pytest.raises(StoreURLError, match="cannot share it|three slashes") as info:
        parse_store_url(url)
    assert url in str(info.value)
    with pytest.raises(StoreURLError, match="in-memory database"):
        SQLiteStore(":memory:")


def test_an_old_sqlite_library_is_refused_with_a_clear_message():
    check_sqlite_version()  # the one in use is recent enough
    check_sqlite_version((3, 35, 0))
    with pytest.raises(SQLiteTooOld, match=r"SQLite 3\.34\.1.*needs 3\.35 or newer"):
        check_sqlite_version((3, 34, 1))
    assert issubclass(SQLiteTooOld, StoreError)


def test_missing_directory(tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(StoreOpenError, match=f"directory '{missing}' does not exist; create it"):
        open_store(f"sqlite:///{missing}/exp.db")
    assert not missing.exists()


def test_permission_denied_creating_the_file(tmp_path, unwritable):
    directory = tmp_path / "locked"
    directory.mkdir()
    unwritable(directory)
    with pytest.raises(StoreOpenError, match=f"permission denied creating '{directory}/exp.db'"
                       ".*create and write files in") as info:
        open_store(f"sqlite:///{directory}/exp.db")
    assert isinstance(info.value, OSError)
    assert not isinstance(info.value, sqlite3.Error)


def test_a_read_only_file(tmp_path, unwritable):
    path = tmp_path / "exp.db"
    with open_store(f"sqlite:///{path}") as store:
        store.insert_trials(new_docs([0]))
    unwritable(path)
    with pytest.raises(StoreReadOnly, match=f"'{path}' can be read but not written") as info:
        open_store(f"sqlite:///{path}")
    assert isinstance(info.value, PermissionError)


def test_a_directory_where_wal_files_cannot_be_created(tmp_path, unwritable):
    directory = tmp_path / "d"
    directory.mkdir()
    path = directory / "exp.db"
    with open_store(f"sqlite:///{path}") as store:
        store.insert_trials(new_docs([0]))
    assert not (directory / "exp.db-wal").exists()
    unwritable(directory)
    with pytest.raises((StoreOpenError, StoreReadOnly), match=str(path)) as info:
        with open_store(f"sqlite:///{path}") as store:
            store.insert_trials(new_docs([1]))
    assert "-wal" in str(info.value)


def test_a_full_database_raises_store_full_and_keeps_nothing(tmp_path):
    path = tmp_path / "exp.db"
    store = SQLiteStore(path, max_size=64 * 1024)
    try:
        store.insert_trials(new_docs([0]))
        with pytest.raises(StoreFull, match=f"disk holding '{path}' is full.*rolled back") as info:
            store.set_attachment("e", "big", b"x" * 200_000)
        assert isinstance(info.value, OSError) and not isinstance(info.value, sqlite3.Error)
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        assert not store.has_attachment("e", "big")
        with pytest.raises(StoreFull):
            store.insert_trials(new_docs(list(range(1, 400))))
        assert store.max_tid("e") == 0  # all or nothing
        store.set_attachment("e", "small", b"fits")  # the store still works
        assert store.get_attachment("e", "small") == b"fits"
    finally:
        store.close()
    with pytest.raises(ValueError, match="max_size must be"):
        SQLiteStore(path, max_size=-1)


def test_exp_keys_keep_their_identity_across_reopen(tmp_path):
    url = f"sqlite:///{tmp_path / 'exp.db'}"
    with open_store(url) as store:
        store.insert_trials(new_docs([0], exp_key=None))
        store.insert_trials(new_docs([0, 1], exp_key="5"))
        for bad in (5, ""):
            with pytest.raises(InvalidExpKey):
                store.insert_trials(new_docs([9], exp_key=bad))
    with open_store(url) as store:
        assert [d["exp_key"] for d in store.get_trials(None, [0])] == [None]
        assert sum(store.count_by_state(None).values()) == 1
        assert sorted(d["exp_key"] for d in store.get_trials("5", [0, 1])) == ["5", "5"]


def test_a_closed_store_says_so(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'exp.db'}")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count_by_state("e")


def test_opening_a_store_keeps_the_locks_of_connections_already_open(tmp_path):
    """Closing any descriptor of a file drops this process's POSIX locks on it, SQLite's
    included. Opening a second store on the file must not do that: the last connection of
    another process to close would then believe it is the last one, and delete the -wal and
    -shm files under this process's connections."""
    import sys

    path = tmp_path / "exp.db"
    url = f"sqlite:///{path}"
    first = open_store(url)
    try:
        first.insert_trials(new_docs([0]))
        assert (tmp_path / "exp.db-wal").exists()
        with open_store(url) as second:
            assert sum(second.count_by_state("e").values()) == 1
        other_process = ("import sqlite3, sys\n"
                         "c = sqlite3.connect(sys.argv[1])\n"
                         "c.execute('SELECT COUNT(*) FROM trials').fetchall()\n"
                         "c.close()\n")
        subprocess.run([sys.executable, "-c", other_process, str(path)], check=True, timeout=60)
        assert (tmp_path / "exp.db-wal").exists(), "the -wal file was deleted under `first`"
        first.insert_trials(new_docs([1]))
        assert first.max_tid("e") == 1
    finally:
        first.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
