"""Saving and loading a :class:`~hpo.base.Trials` to a file, atomically.

``fmin(..., trials_save_file=path)`` saves after every finished trial: the pickle is written to
a temporary file in the same directory, flushed to disk and renamed over ``path``, so a
process killed at any moment leaves either the previous complete file or the new one.

>>> import os, tempfile
>>> from hpo import Trials
>>> path = os.path.join(tempfile.mkdtemp(), "t.pkl")
>>> save_trials(Trials(), path); len(load_trials(path))
0
"""

from __future__ import annotations

import os
import pickle
import tempfile

from .base import Trials
from .exceptions import TrialsFileError


def save_trials(trials, path):
    """Write ``trials`` to ``path`` atomically (temporary file + fsync + rename)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".hpo-trials-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(trials, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_trials(path):
    """Read a trials file written by :func:`save_trials`; a damaged file raises, untouched."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            trials = pickle.load(f)
    except (EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError,
            TypeError, ValueError) as e:
        raise TrialsFileError(
            f"trials_save_file {path!r} cannot be read ({type(e).__name__}: {e}); it was left "
            f"as it is -- move it away to start a new search"
        ) from e
    if not isinstance(trials, Trials):
        raise TrialsFileError(
            f"trials_save_file {path!r} holds a {type(trials).__name__}, not hpo Trials; it was "
            f"left as it is"
        )
    return trials
