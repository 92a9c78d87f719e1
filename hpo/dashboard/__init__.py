"""``hpo dashboard``: a live web page over a store's experiments, and the inspection commands.

``hpo dashboard URL`` (``pip install 'hpo[dashboard]'``) serves, on 127.0.0.1, a page that
follows every experiment of a SQLite or MongoDB store, or a ``trials_save_file``, as trials
finish: the best-so-far history, a sortable and filterable table of trials, parallel
coordinates, slice plots, parameter importances, intermediate values (pruning), and for
neural-architecture trials the architecture as a graph and its chain of morphism parents.

- :mod:`~hpo.dashboard.source` -- opening a URL and following experiments incrementally;
- :mod:`~hpo.dashboard.table` -- trials as rows (the table, ``hpo export``);
- :mod:`~hpo.dashboard.api` -- the JSON answers behind each panel;
- :mod:`~hpo.dashboard.server` -- the HTTP server (standard library) and static files;
- :mod:`~hpo.dashboard.cli`, :mod:`~hpo.dashboard.commands` -- ``hpo dashboard``, ``hpo ls``,
  ``hpo show``, ``hpo export``, ``hpo best-model``.

The page draws with plotly.js, served from the installed ``plotly`` package; nothing is
fetched from the internet. It is read-only unless started with ``--allow-write``.

>>> from hpo.dashboard import open_source
>>> open_source("sqlite:///no/such/dir/exp.db")
Traceback (most recent call last):
...
hpo.dashboard.source.SourceError: store url 'sqlite:///no/such/dir/exp.db': 'no/such/dir/exp.db' does not exist (no such file); give the path of an existing SQLite store
"""

from .source import SourceError, UnknownExperiment, open_source  # noqa: F401  (re-exported)
