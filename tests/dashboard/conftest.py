"""Stores filled by real searches, for the dashboard and inspection-command tests."""

from __future__ import annotations

import pytest
from dashboard_support import search


@pytest.fixture(scope="session")
def filled_url(tmp_path_factory):
    """A SQLite store with experiments 'demo' (30 trials) and 'other' (5 trials)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'exp.db'}"
    search(url, "demo", 30)
    search(url, "other", 5, seed=1)
    return url
