"""Report every ``fit`` of a block of code to the running trial, without editing the code.

A template's model function (or any code that builds and trains Keras models) calls
``model.fit`` itself. :func:`report_every_fit` gives each ``keras.Model.fit`` call made in
this thread while the block runs a :class:`~hpo.keras.PruningCallback`, so the fit reports its
epochs and stops, by raising :class:`hpo.TrialPruned`, when the search's pruner says so:

* a fit that already has a ``PruningCallback`` is left as it is;
* a fit without validation data (no ``validation_data``, no ``validation_split``) is left as it
  is when the monitor is a validation metric (``val_...``): there is nothing to report;
* when the block fits more than once, the steps continue from the last one reported, so they
  keep increasing (``hpo.report`` requires it).

``keras.Model.fit`` is wrapped only while at least one such block runs, and the wrapper acts
only in the thread (context) that opened the block; other threads' fits are untouched.

>>> import numpy as np, keras
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
>>> model.compile("adam", "sparse_categorical_crossentropy")
>>> x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
>>> with report_every_fit("val_loss") as reports:
...     _ = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0)
...     _ = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0)
>>> [step for step, _ in reports]
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import threading

import keras

from .pruning import PruningCallback, metric_mode

_active = contextvars.ContextVar("hpo_report_every_fit", default=None)
_lock = threading.Lock()
_installed = {"depth": 0, "own_fit": None}


class _Settings:
    def __init__(self, monitor, mode, ctrl):
        self.monitor, self.mode, self.ctrl = monitor, mode, ctrl
        self.reports = []  # every [step, loss] reported by the block's fits, in order


def _fit_reporting(original):
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        settings = _active.get()
        if settings is None:
            return original(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        callbacks = list(bound.arguments.get("callbacks") or [])
        validated = (bound.arguments.get("validation_data") is not None
                     or bool(bound.arguments.get("validation_split")))
        if any(isinstance(c, PruningCallback) for c in callbacks) or (
                settings.monitor.startswith("val_") and not validated):
            return original(self, *args, **kwargs)
        offset = settings.reports[-1][0] if settings.reports else 0
        callback = PruningCallback(settings.monitor, mode=settings.mode, ctrl=settings.ctrl,
                                   step_offset=offset)
        bound.arguments["callbacks"] = [*callbacks, callback]
        try:
            return original(*bound.args, **bound.kwargs)
        finally:
            settings.reports.extend(callback.reports)

    return fit


def _install():
    with _lock:
        if _installed["depth"] == 0:
            # Model inherits fit from the backend's trainer; remember whether Model had its own.
            _installed["own_fit"] = keras.Model.__dict__.get("fit")
            keras.Model.fit = _fit_reporting(keras.Model.fit)
        _installed["depth"] += 1


def _uninstall():
    with _lock:
        _installed["depth"] -= 1
        if _installed["depth"] == 0:
            if _installed["own_fit"] is None:
                del keras.Model.fit
            else:
                keras.Model.fit = _installed["own_fit"]


@contextlib.contextmanager
def report_every_fit(monitor="val_loss", mode="auto", ctrl=None):
    """While the block runs, every ``keras.Model.fit`` in this thread reports ``monitor``
    each epoch to the running trial and stops it when pruned (see the module's docstring).

    Yields the list of ``[step, loss]`` pairs reported, filled as the fits run. ``monitor``,
    ``mode`` and ``ctrl`` are :class:`~hpo.keras.PruningCallback`'s.
    """
    mode = metric_mode(monitor, mode)
    settings = _Settings(monitor, mode, ctrl)
    _install()
    token = _active.set(settings)
    try:
        yield settings.reports
    finally:
        _active.reset(token)
        _uninstall()
