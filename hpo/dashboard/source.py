"""Where the dashboard and the inspection commands read trials: a store URL or a journal file.

:func:`open_source` accepts what ``fmin`` writes to:

- ``sqlite:///exp.db`` -- an existing SQLite job store (a missing file is an error: the
  dashboard never creates an empty store by mistake);
- ``mongo://host:port/db[/collection]`` -- a MongoDB job store;
- a path to a ``trials_save_file`` journal (``fmin(..., trials_save_file=path)``).

A source lists its experiments (``exp_key``; ``None`` is the experiment without a key) and
gives, per experiment, a :class:`~hpo.base.Trials` that follows it *incrementally*: each
:meth:`Source.update` reads only what changed since the previous one (a store's
``changes_since``; the bytes appended to a journal), and returns the changed trial ids.

>>> import os, tempfile
>>> from hpo import fmin, hp, rand
>>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
...          trials_save_file=path, show_progressbar=False)
>>> source = open_source(path)
>>> source.experiments(), sorted(source.update(None)), len(source.trials(None))
([None], [0, 1, 2], 3)
>>> open_source(path + ".missing")
Traceback (most recent call last):
...
hpo.dashboard.source.SourceError: 'search.jsonl.missing' ... no such file; give a sqlite:///path.db or mongo://host:port/db/jobs url, or the path of a trials_save_file
"""

from __future__ import annotations

import base64
import os
import sqlite3

from ..base import JOB_FINISHED_STATES, Trials
from ..codec import decode_value
from ..exceptions import HpoError
from ..stores import StoreError, open_store, parse_store_url
from ..stores.base import loads
from ..trials_file import FORMAT as JOURNAL_FORMAT


class SourceError(HpoError):
    """A source cannot be opened or read (unreachable store, unknown experiment...)."""


class UnknownExperiment(SourceError, KeyError):
    """The source holds no experiment with this ``exp_key``."""

    def __str__(self):
        return self.args[0]


def open_source(url, connect_timeout=5.0):
    """The :class:`Source` named by ``url`` (a store URL or a journal path).

    Errors name the URL and say what was wrong: :class:`SourceError`.
    """
    if not isinstance(url, str) or not url:
        raise SourceError(f"url must be a store url or a file path, got {url!r}")
    if "://" not in url:
        return JournalSource(url)
    try:
        parsed = parse_store_url(url)
    except StoreError as e:
        raise SourceError(str(e)) from e
    if parsed.scheme == "sqlite" and not os.path.isfile(parsed.path):
        raise SourceError(f"store url {url!r}: {parsed.path!r} does not exist (no such file); "
                          f"give the path of an existing SQLite store")
    if parsed.scheme == "memory":
        raise SourceError(f"store url {url!r}: a memory:// store lives inside one process; "
                          f"give a sqlite:/// or mongo:// url")
    try:
        store = open_store(url, connect_timeout=connect_timeout, retry_for=connect_timeout)
    except ImportError as e:
        raise SourceError(f"store url {url!r}: {e}") from e
    except StoreError as e:
        raise SourceError(f"store url {parsed.redacted()!r} cannot be read: {e}") from e
    return StoreSource(store, parsed)


class Source:
    """Experiments of one store or journal, each followed incrementally."""

    url: str

    def experiments(self):
        """The experiment keys, sorted (``None``, if present, first)."""
        raise NotImplementedError

    def trials(self, exp_key):
        """The followed :class:`~hpo.base.Trials` of ``exp_key`` (call :meth:`update` first)."""
        raise NotImplementedError

    def update(self, exp_key):
        """Read what changed in ``exp_key`` since the last update; returns the changed tids."""
        raise NotImplementedError

    def check(self, exp_key):
        """``exp_key`` if the source holds it, else :class:`UnknownExperiment` naming it."""
        keys = self.experiments()
        if exp_key not in keys:
            raise UnknownExperiment(
                f"{self.url}: no experiment with exp_key {exp_key!r}; experiments here: "
                f"{', '.join(map(repr, keys)) or 'none'}")
        return exp_key

    def default_experiment(self):
        """The only experiment, or :class:`SourceError` asking for ``--exp-key``."""
        keys = self.experiments()
        if len(keys) != 1:
            raise SourceError(f"{self.url} holds {len(keys)} experiments "
                              f"({', '.join(map(repr, keys)) or 'none'}); choose one with --exp-key")
        return keys[0]

    def close(self):
        """Release the connection, if any."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _sorted_keys(keys):
    return sorted(set(keys), key=lambda k: (k is not None, k or ""))


class StoreSource(Source):
    """A SQLite or MongoDB job store; one :class:`~hpo.stores.StoreTrials` per experiment."""

    def __init__(self, store, parsed):
        self.store, self.url = store, parsed.redacted()
        self._parsed = parsed
        self._trials = {}

    def experiments(self):
        if self._parsed.scheme == "sqlite":
            return _sorted_keys(_sqlite_exp_keys(self._parsed.path))
        # The job store protocol has no listing; MongoStore exposes its collections.
        return _sorted_keys(self.store.jobs.distinct("exp_key"))

    def trials(self, exp_key):
        from ..stores.trials import StoreTrials

        if exp_key not in self._trials:
            self._trials[exp_key] = StoreTrials(self.store, exp_key=exp_key, refresh=False)
        return self._trials[exp_key]

    def update(self, exp_key):
        try:
            return self.trials(exp_key).refresh()
        except StoreError as e:
            raise SourceError(f"{self.url}: reading exp_key {exp_key!r} failed: {e}") from e

    def close(self):
        self.store.close()


def _sqlite_exp_keys(path):
    """Distinct experiment keys of a SQLite store, through a read-only connection of our own
    (the store protocol has no listing; the table layout is the store's file format)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = conn.execute("SELECT DISTINCT exp_key FROM trials UNION "
                                "SELECT exp_key FROM experiments").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise SourceError(f"sqlite:///{path}: listing its experiments failed: {e}") from e
    return [None if key == "" else key for (key,) in rows]


class JournalSource(Source):
    """A ``trials_save_file`` journal: one experiment (``None``), read as it grows.

    The journal is appended to during a search and rewritten (compacted, a new file) when a
    search opens or closes it; an update reads only the appended bytes, or the whole file
    when it was replaced. Attachments recorded in the journal (a NAS trial's weights) are
    read too.
    """

    def __init__(self, path):
        self.path = self.url = os.fspath(path)
        if not os.path.isfile(self.path):
            raise SourceError(
                f"{os.path.basename(self.path)!r} ({self.path!r}): no such file; give a "
                f"sqlite:///path.db or mongo://host:port/db/jobs url, or the path of a "
                f"trials_save_file")
        self._trials = Trials()
        self._inode, self._offset = None, 0
        self._read_header()

    def experiments(self):
        return [None]

    def trials(self, exp_key):
        self.check(exp_key)
        return self._trials

    def _read_header(self):
        with open(self.path, "rb") as f:
            first = f.readline()
        try:
            header = loads(first)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
            raise SourceError(f"{self.path!r} is neither a store url nor an hpo trials journal "
                              f"(trials_save_file)")

    def update(self, exp_key):
        self.check(exp_key)
        stat = os.stat(self.path)
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            # Compacted (a new file): start over.
            self._trials, self._inode, self._offset = Trials(), stat.st_ino, 0
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a torn last line is read once it is complete
        lines = data[:end].split(b"\n")[:-1]
        if self._offset == 0:
            lines = lines[1:]  # the header
        self._offset += end
        changed = []
        attachments = self._trials.attachments
        for line in lines:
            record = loads(line)
            if "doc" in record:
                changed.append(self._apply(record["doc"]))
            elif record.get("value") is None:
                attachments.pop(record["attachment"], None)  # a deletion
            else:
                # Model weights of NAS trials (``hpo best-model``); the codec never runs code.
                attachments[record["attachment"]] = decode_value(base64.b64decode(record["value"]))
        self._trials.refresh()
        return changed

    def _apply(self, doc):
        tid = doc["tid"]
        try:
            local = self._trials.trial_by_tid(tid)
        except KeyError:
            self._trials.insert_trial_doc(doc)
            return tid
        if local["state"] in JOB_FINISHED_STATES:
            return tid  # a finished trial never changes again (as in StoreTrials)
        local.clear()
        local.update(doc)
        return tid
