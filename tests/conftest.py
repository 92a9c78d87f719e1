"""Shared pytest fixtures. Each block below belongs to one part of the test suite."""

from __future__ import annotations

import itertools
import os

import pytest

# ---- stores and workers: SQLite files and a MongoDB-protocol server ----------------------------

from mongo_server import MONGO_URL_ENV, ExternalServer, MongoTestServer  # noqa: E402

_db_names = itertools.count()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """A running MongoDB-protocol server for the session (or ``$HPO_TEST_MONGO_URL``)."""
    pytest.importorskip("pymongo")
    if os.environ.get(MONGO_URL_ENV):
        yield ExternalServer(os.environ[MONGO_URL_ENV])
        return
    server = MongoTestServer(tmp_path_factory.mktemp("mongo") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def mongo_url(mongo_server):
    """A mongo:// store url in a database of its own."""
    return mongo_server.url(f"hpo_test_{os.getpid()}_{next(_db_names)}")


@pytest.fixture
def sqlite_url(tmp_path):
    """A sqlite:/// store url of a new file."""
    return f"sqlite:///{tmp_path / 'exp.db'}"


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def store_url(request, tmp_path):
    """The url of an empty store, once per store kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exp.db'}"
    return request.getfixturevalue("mongo_url")

@pytest.fixture(params=["memory", "sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def job_store(request, tmp_path):
    """An open, empty job store, once per store kind (memory, SQLite, MongoDB).

    ``job_store.test_url`` is a URL that reaches the same store from another client (None for
    memory, whose store lives in this object only).
    """
    from hpo.stores import open_store

    if request.param == "memory":
        url = None
        store = open_store("memory://")
    else:
        url = (f"sqlite:///{tmp_path / 'exp.db'}" if request.param == "sqlite"
               else request.getfixturevalue("mongo_url"))
        store = open_store(url, connect_timeout=20)
    store.test_url = url
    yield store
    store.close()


@pytest.fixture
def second_client(job_store):
    """Another client of ``job_store``'s store: a new connection by URL (the store itself for
    memory, whose only clients are the threads of this process)."""
    from hpo.stores import open_store

    if job_store.test_url is None:
        yield job_store
        return
    other = open_store(job_store.test_url, connect_timeout=20)
    yield other
    other.close()

# ---- end of the stores block ---------------------------------------------------------------------
