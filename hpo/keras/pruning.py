"""A Keras callback that reports each epoch to the running trial and stops it when pruned.

``PruningCallback`` is the Keras end of :func:`hpo.report`: after every epoch it reports the
monitored metric of the epoch's logs (``val_loss`` by default) at step ``epoch + 1`` -- the
number of epochs trained, so a pruner's ``min_resource`` counts epochs -- and when the
search's pruner answers "stop" it ends the trial as pruned. Outside ``fmin`` it reports
nothing and never stops training, so a model function stays usable on its own.

>>> import numpy as np, keras
>>> from hpo.keras import PruningCallback
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
>>> model.compile("adam", "sparse_categorical_crossentropy")
>>> x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
>>> callback = PruningCallback()
>>> history = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0,
...                     callbacks=[callback])
>>> len(history.history["val_loss"]), callback.pruned
(2, False)
"""

from __future__ import annotations

import math

import keras

from ..exceptions import TrialPruned
from ..reporting import report as _report

# Substrings of metric names that are better when larger, as Keras' own callbacks guess them.
_LARGER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou")
MODES = ("auto", "min", "max")


def metric_mode(monitor, mode="auto"):
    """``"min"`` or ``"max"``: how ``monitor`` is optimized (``mode="auto"`` guesses from the
    name: losses and errors are minimized, accuracies, AUC, precision, recall... maximized).

    >>> metric_mode("val_loss"), metric_mode("val_accuracy"), metric_mode("mae", "min")
    ('min', 'max', 'min')
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    if "loss" in name or "error" in name:
        return "min"
    if any(part in name for part in _LARGER_IS_BETTER):
        return "max"
    raise ValueError(
        f"cannot tell whether monitor={monitor!r} is better when smaller or larger; "
        f"give mode='min' or mode='max'")


class PruningCallback(keras.callbacks.Callback):
    """Report ``logs[monitor]`` to the running trial after each epoch; stop when pruned.

    Parameters
    ----------
    monitor : the key of the epoch's logs to report (``"val_loss"``, ``"val_accuracy"``...).
        Validation metrics need ``validation_data`` (or ``validation_split``) in ``fit``.
    mode : ``"auto"``, ``"min"`` or ``"max"``. Reports are losses (lower is better): a
        ``"max"`` metric is reported as ``1 - value`` when it is an accuracy-like metric in
        [0, 1] (so it matches an objective returning ``1 - accuracy``), else as ``-value``;
        give ``to_loss`` to choose.
    to_loss : optional function ``value -> loss`` used instead of ``mode``'s conversion.
    ctrl : the trial's :class:`hpo.Ctrl`, for objectives called with ``ctrl``; by default
        :func:`hpo.report` finds the running trial of this thread.
    raise_pruned : True (the default): when the pruner says stop, raise
        :class:`hpo.TrialPruned` from the callback, which ends ``fit`` and the trial (recorded
        with status ``"pruned"`` and its last report). False: only set
        ``model.stop_training`` and :attr:`pruned`, so the objective can save the model
        first and then ``raise hpo.TrialPruned()`` or return ``{"status": "pruned", ...}``.
    step_offset : added to every step, for a trial that trains in several ``fit`` calls: give
        the second fit the number of epochs of the first, so that steps keep increasing.

    Attributes: ``pruned`` (True once told to stop), ``pruned_step``, ``reports`` (the
    ``[step, loss]`` pairs given to the trial).

    A non-finite value is not reported (``hpo.report`` refuses it): a diverged trial is the
    objective's to fail, e.g. with ``keras.callbacks.TerminateOnNaN``.

    >>> PruningCallback(monitor="val_accuracy").to_loss(0.75)
    0.25
    >>> PruningCallback(monitor="val_loss", mode="sideways")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of ('auto', 'min', 'max'), got 'sideways'
    """

    def __init__(self, monitor="val_loss", mode="auto", to_loss=None, ctrl=None, raise_pruned=True,
                 step_offset=0):
        super().__init__()
        if isinstance(step_offset, bool) or not isinstance(step_offset, int) or step_offset < 0:
            raise ValueError(f"step_offset must be an int >= 0, got {step_offset!r}")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be the name of a metric in fit's logs, got {monitor!r}")
        if to_loss is not None and not callable(to_loss):
            raise ValueError(f"to_loss must be a function value -> loss, got {to_loss!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.monitor = monitor
        # With to_loss the direction is the caller's business: no guess from the name.
        self.mode = metric_mode(monitor, mode) if to_loss is None else mode
        self.to_loss = to_loss if to_loss is not None else self._default_to_loss()
        self.ctrl = ctrl
        self.step_offset = step_offset
        self.raise_pruned = bool(raise_pruned)
        self.pruned = False
        self.pruned_step = None
        self.reports = []

    def _default_to_loss(self):
        if self.mode == "min":
            return float
        if any(part in self.monitor.lower() for part in _LARGER_IS_BETTER):
            return lambda value: 1.0 - float(value)
        return lambda value: -float(value)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"PruningCallback(monitor={self.monitor!r}): the epoch's logs have no "
                f"{self.monitor!r}, only {sorted(logs)}; pass validation_data to fit for a "
                f"'val_' metric, or monitor one of these")
        loss = self.to_loss(float(logs[self.monitor]))
        if not math.isfinite(loss):
            return
        step = self.step_offset + int(epoch) + 1
        report = self.ctrl.report if self.ctrl is not None else _report
        self.reports.append([step, loss])
        if not report(step, loss):
            return
        self.pruned, self.pruned_step = True, step
        self.model.stop_training = True
        if self.raise_pruned:
            raise TrialPruned(f"pruned after epoch {step} with {self.monitor}={logs[self.monitor]:.6g}")
