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

# ---- end of the stores block ---------------------------------------------------------------------
