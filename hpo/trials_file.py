"""``fmin(..., trials_save_file=path)``: an append-only journal of the search, safe to kill.

Every inserted and every finished trial is appended to ``path`` as one JSON line, written
with a single ``write`` to a file opened in append mode, so a record costs O(1) whatever the
length of the search, and a process killed at any moment leaves every earlier record intact.
The journal is compacted (one line per trial) when it is opened and when the search ends.
A torn last line (the process died in the middle of a write) is ignored with a warning.

The first line names the search space by its fingerprint, so a search over another space
refuses the file (:class:`~hpo.stores.DomainMismatch`, as the stores do). Attachments are
stored with :mod:`hpo.codec`: the file is JSON plus raw arrays, and loading it never runs
code. Files are created readable by their owner only.

>>> import os, tempfile
>>> from hpo import Trials, fmin, hp, rand
>>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=5,
...          trials_save_file=path, show_progressbar=False)
>>> len(load_trials(path)), oct(os.stat(path).st_mode & 0o777)
(5, '0o600')
"""

from __future__ import annotations

import base64
import json
import logging
import os

from .base import JOB_STATE_NEW, JOB_STATE_RUNNING, Trials
from .codec import decode_value, encode_value
from .exceptions import TrialsFileError
from .stores.base import DomainMismatch, dumps, loads, space_fingerprint

logger = logging.getLogger(__name__)

FORMAT = "hpo-trials-journal"
VERSION = 1


def _read(path):
    """``(header, {tid: doc}, {name: value or None})`` of the journal at ``path``."""
    with open(path, "rb") as f:
        content = f.read()
    if not content:
        raise TrialsFileError(f"trials_save_file {path!r} is empty; it was left as it is -- "
                              f"move it away to start a new search")
    lines = content.split(b"\n")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT or len(lines) < 2:
        raise TrialsFileError(
            f"trials_save_file {path!r} is not an hpo trials journal (files pickled by older "
            f"versions or by Hyperopt are not read: they can run code when loaded); it was "
            f"left as it is -- move it away to start a new search"
        )
    torn = lines.pop()  # what follows the last newline: empty, or a record cut short
    if torn:
        logger.warning("trials_save_file %r: its last record was cut short (the process was "
                       "killed while writing it) and is ignored", path)
    if header.get("version") != VERSION:
        raise TrialsFileError(f"trials_save_file {path!r} has journal version "
                              f"{header.get('version')!r}; this hpo reads version {VERSION}")
    docs, attachments = {}, {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            record = loads(line)
            if "doc" in record:
                docs[int(record["doc"]["tid"])] = record["doc"]
            else:
                data = record["value"]
                attachments[record["attachment"]] = (
                    None if data is None else decode_value(base64.b64decode(data)))
        except (ValueError, KeyError, TypeError) as e:
            raise TrialsFileError(
                f"trials_save_file {path!r}: line {number} cannot be read ({type(e).__name__}: "
                f"{e}); it was left as it is"
            ) from e
    return header, docs, {k: v for k, v in attachments.items() if v is not None}


def load_trials(path):
    """The :class:`~hpo.base.Trials` recorded in the journal at ``path`` (read only).

    A trial that was queued or running when the search stopped comes back NEW.
    """
    path = os.fspath(path)
    _, docs, attachments = _read(path)
    return _fill(Trials(), docs, attachments)


def _fill(trials, docs, attachments):
    trials.delete_all()
    for tid in sorted(docs):
        doc = docs[tid]
        if doc["state"] == JOB_STATE_RUNNING:
            doc["state"] = JOB_STATE_NEW
        trials.insert_trial_doc(doc)
    trials.attachments.update(attachments)
    trials.attachments.changed.clear()
    trials.refresh()
    return trials


def _encode_line(record, what):
    try:
        return (dumps(record) + "\n").encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"trials_save_file: {what} cannot be saved: {e}") from e


class TrialsJournal:
    """The journal of one search; :meth:`open` it, :meth:`record` trials, :meth:`close` it."""

    def __init__(self, path, trials, fingerprint):
        self.path, self.trials, self.fingerprint = path, trials, fingerprint
        self._fd = None

    @classmethod
    def open(cls, path, trials, domain):
        """Resume ``trials`` from the journal at ``path`` if there is one, and start journaling.

        The journal's trials replace those in ``trials`` (the caller's object, so the
        ``trials`` they hold shows the whole search); without a journal, the trials already
        in ``trials`` (``generate_trials_to_calculate``) are its first records.
        """
        path = os.fspath(path)
        fingerprint = space_fingerprint(domain.compiled)
        trials = Trials() if trials is None else trials
        journal = cls(path, trials, fingerprint)
        if os.path.exists(path):
            header, docs, attachments = _read(path)
            if header.get("space_fingerprint") != fingerprint and docs:
                raise DomainMismatch(
                    f"trials_save_file {path!r} already holds {len(docs)} trials of a different "
                    f"search space; use a new file or delete the old one"
                )
            _fill(trials, docs, attachments)
        journal._compact()
        return journal, trials

    def _header(self):
        return {"format": FORMAT, "version": VERSION, "space_fingerprint": self.fingerprint}

    def _compact(self):
        """Rewrite the journal as one line per trial and attachment, atomically.

        The temporary file has a fixed name, so a process killed while compacting leaves at
        most one stray file, which the next compaction overwrites.
        """
        self._close_fd()
        tmp = self.path + ".compacting"
        lines = [_encode_line(self._header(), "the header")]
        lines += [_encode_line({"doc": doc}, f"trial {doc['tid']}") for doc in self.trials.all_trials]
        attachments = self.trials.attachments
        lines += [self._attachment_line(name, attachments[name]) for name in list(attachments)]
        attachments.changed.clear()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    @staticmethod
    def _attachment_line(name, value):
        try:
            data = base64.b64encode(encode_value(value)).decode()
        except (TypeError, ValueError) as e:
            raise TypeError(f"trials_save_file: attachment {name!r} cannot be saved: {e}") from e
        return _encode_line({"attachment": name, "value": data}, f"attachment {name!r}")

    def record(self, doc):
        """Append trial ``doc`` (and the attachments changed since the last record)."""
        attachments = self.trials.attachments
        lines = []
        for name in sorted(attachments.changed):
            if name in attachments:
                lines.append(self._attachment_line(name, attachments[name]))
            else:
                lines.append(_encode_line({"attachment": name, "value": None}, "a deletion"))
        attachments.changed.clear()
        lines.append(_encode_line({"doc": doc}, f"trial {doc['tid']}"))
        # One write per record: a kill leaves either all of it or a torn last line.
        _write_all(self._fd, b"".join(lines))

    def close(self, trials=None):
        """Compact the journal and close it."""
        if self._fd is None:
            return
        self._compact()
        self._close_fd()

    def _close_fd(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
