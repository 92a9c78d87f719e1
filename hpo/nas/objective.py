"""Training objective for architecture search: build, inherit weights, train, report.

>>> import numpy as np
>>> from hpo import fmin, Trials
>>> from hpo.nas import KerasObjective, morphism_bo, space
>>> rng = np.random.default_rng(0)
>>> x, y = rng.random((64, 8, 8, 1)), rng.integers(0, 3, 64)
>>> objective = KerasObjective(x, y, x, y, epochs=1)
>>> trials = Trials()
>>> _ = fmin(objective, space.cnn("arch", (8, 8, 1), 3), algo=morphism_bo.suggest,
...          max_evals=2, trials=trials, show_progressbar=False)
>>> trials.trials[1]["result"]["weights_inherited"]
True
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from ..spaces import compile_space, space_eval
from .arch import Architecture, ArchitectureError
from .cell_build import inherit_weights
from .cell_space import CellPrior
from .keras_build import build_keras, get_weights, set_weights, weights_from_bytes, weights_to_bytes
from .morphisms import MorphismError, chain_weights
from .space import find_arch_param

logger = logging.getLogger(__name__)

WEIGHTS_ATTACHMENT = "nas_weights"
_PREDICT_CHUNK = 4096


def _as_images(name, x):
    x = np.asarray(x)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
    if x.ndim != 4:
        hint = " (add a channel axis with x[..., None])" if x.ndim == 3 else ""
        raise ValueError(f"{name} must have shape (samples, height, width, channels), got {x.shape}{hint}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x.astype(np.float32, copy=False)


def _as_labels(name, y, n):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must hold one integer class label per sample ({n}), got shape {y.shape}")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or np.any(y < 0):
        raise ValueError(f"{name} must hold non-negative integer class labels")
    return y.astype(np.int64)


def accuracy(model, x, y):
    """Inference-mode accuracy of ``model`` on ``(x, y)``."""
    from keras import ops

    correct = 0
    for start in range(0, len(x), _PREDICT_CHUNK):
        probs = ops.convert_to_numpy(model(x[start:start + _PREDICT_CHUNK], training=False))
        correct += int((probs.argmax(axis=1) == y[start:start + _PREDICT_CHUNK]).sum())
    return correct / len(x)


def _find_trial(trials, tid):
    """The document of trial ``tid``; a worker's view of a shared store starts empty, so read
    the store once when the trial is not known yet."""
    for attempt in range(2):
        try:
            return trials.trial_by_tid(tid)
        except KeyError:
            if attempt == 0:
                trials.refresh()
    return None


class KerasObjective:
    """An ``fmin`` objective that trains the proposed architecture and returns
    ``1 - validation accuracy``.

    Use it directly: ``fmin(KerasObjective(x_train, y_train, x_val, y_val), space,
    algo=nas.morphism_bo.suggest)``. The space holds one :func:`hpo.nas.space.cnn` or
    :func:`hpo.nas.space.cells` parameter and, optionally, ``learning_rate`` and
    ``batch_size`` entries in a top-level dict that override the constructor's values per
    trial. A cell is trained as the network it unrolls into (``cell.to_architecture()``).

    A cell trial whose document names its parent cell's trial (``misc["from_tid"]``, set by
    ``nas.pnas``) starts, when the space's ``warm_start`` is on (the default), from the
    parent's trained weights: every layer the two networks share is copied and the new block
    enters each cell's output 1x1 conv through zero weights, so before training the child
    computes the parent's function (:func:`hpo.nas.cell_build.inherit_weights`).

    For each trial it builds the architecture, and when the trial's document names a parent
    (``misc["from_tid"]`` and ``misc["nas_ops"]``, set by ``morphism_bo``) it loads the
    parent's stored weights and carries them through the operations; if they are missing the
    network trains from scratch and the result says why (``weights_inherited: False``,
    ``inheritance_error``). It trains with Keras ``fit`` (sparse categorical cross-entropy),
    stores the trained weights as the trial's ``"nas_weights"`` attachment and returns::

        {"loss": 1 - val_accuracy, "status": "ok", "val_accuracy", "accuracy_before_training",
         "n_params", "epochs", "weights_inherited", "arch_hash", "train_seconds"}

    With ``pruning`` on (the default) every epoch's ``1 - val_accuracy`` is reported to the
    trial (:func:`hpo.report`, step = epochs trained), so ``fmin(..., pruner=...)`` can stop a
    hopeless network early. A pruned trial keeps what it trained: its weights are stored as
    its ``"nas_weights"`` attachment like any other (a morphism child may still start from
    them) and it returns ``{"status": "pruned", "loss": <last report>, "pruned_at_epoch",
    ...}``. Without a pruner the reports are only recorded (``result["intermediate"]``).

    An architecture with more than ``max_params`` weights is refused (status ``fail``,
    nothing built); a training loss that becomes NaN or infinite fails the trial (status
    ``fail``) and the search goes on. Data that does not fit the architecture (input shape,
    number of classes) raises ``ValueError``: that is a mistake in the space, not a bad trial.

    Parameters: ``epochs``; ``batch_size``; ``optimizer`` (a Keras optimizer name, or a
    callable ``learning_rate -> optimizer``); ``learning_rate``; ``early_stopping`` (patience
    in epochs on validation accuracy, None for none); ``max_params`` (None: the space's);
    ``seed`` (weight initialization and dropout); ``verbose`` (Keras ``fit`` verbosity);
    ``pruning`` (report each epoch and honour the pruner, see above).
    """

    # fmin passes (expr, memo, ctrl) to objectives that set this attribute, which is how the
    # objective reaches the trial document and the attachments.
    fmin_pass_expr_memo_ctrl = True

    def __init__(self, x_train, y_train, x_val, y_val, epochs=10, batch_size=32, optimizer="adam",
                 learning_rate=1e-3, early_stopping=None, max_params=None, seed=0, verbose=0,
                 pruning=True):
        self.x_train = _as_images("x_train", x_train)
        self.y_train = _as_labels("y_train", y_train, len(self.x_train))
        self.x_val = _as_images("x_val", x_val)
        self.y_val = _as_labels("y_val", y_val, len(self.x_val))
        if self.x_val.shape[1:] != self.x_train.shape[1:]:
            raise ValueError(
                f"x_val's samples have shape {self.x_val.shape[1:]}, x_train's {self.x_train.shape[1:]}"
            )
        for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if early_stopping is not None and (not isinstance(early_stopping, int) or early_stopping < 1):
            raise ValueError(f"early_stopping must be a patience in epochs (int >= 1) or None, got {early_stopping!r}")
        if not (isinstance(optimizer, str) or callable(optimizer)):
            raise ValueError(f"optimizer must be a Keras optimizer name or a callable, got {optimizer!r}")
        self.epochs, self.batch_size = epochs, batch_size
        self.optimizer, self.learning_rate = optimizer, float(learning_rate)
        self.early_stopping, self.max_params = early_stopping, max_params
        self.seed, self.verbose = int(seed), verbose
        if not isinstance(pruning, bool):
            raise TypeError(f"pruning must be True or False, got {pruning!r}")
        self.pruning = pruning
        self._compiled = {}

    # -- fmin entry point -----------------------------------------------------------------------

    def __call__(self, expr, memo, ctrl=None):
        compiled = self._compiled.get(id(expr))
        if compiled is None:
            compiled = self._compiled[id(expr)] = compile_space(expr)
        spec = find_arch_param(compiled, cells=True)
        params = space_eval(expr, memo)
        cell = None
        if isinstance(spec.prior, CellPrior):
            cell = spec.prior.decode(memo[spec.label])
            arch = cell.to_architecture()
        else:
            arch = Architecture.from_json(memo[spec.label])
        settings = params if isinstance(params, dict) else {}
        max_params = self.max_params if self.max_params is not None else spec.prior.max_params
        doc = getattr(ctrl, "current_trial", None)
        misc = (doc or {}).get("misc", {})
        initial_weights, inheritance = None, {"weights_inherited": False}
        if misc.get("from_tid") is not None:
            if cell is None:
                initial_weights, inheritance = self._inherit(ctrl, spec.label, arch, misc)
            elif spec.prior.warm_start:
                initial_weights, inheritance = self._warm_start(ctrl, spec, cell, misc)
            else:
                inheritance["parent_tid"] = int(misc["from_tid"])
        seed = self.seed + (int(doc["tid"]) if doc is not None else 0)
        result, weights = self.train(
            arch, initial_weights=initial_weights, max_params=max_params, seed=seed,
            learning_rate=settings.get("learning_rate"), batch_size=settings.get("batch_size"),
            fill_missing=cell is not None, ctrl=ctrl,
        )
        result.update(inheritance)
        if weights is not None and ctrl is not None and doc is not None:
            ctrl.attachments[WEIGHTS_ATTACHMENT] = weights_to_bytes(weights)
        return result

    def _parent_weights(self, ctrl, misc):
        """``(parent doc, parent weights, info)``; the weights are None (and ``info`` says
        why) when the parent trial or its stored weights cannot be found."""
        parent_tid = int(misc["from_tid"])
        info = {"weights_inherited": False, "parent_tid": parent_tid}
        parent = _find_trial(ctrl.trials, parent_tid)
        data = None if parent is None else ctrl.trials.trial_attachments(parent).get(WEIGHTS_ATTACHMENT)
        if data is None:
            info["inheritance_error"] = f"parent trial {parent_tid} has no stored weights; trained from scratch"
            logger.warning("trial %s: %s", misc.get("tid"), info["inheritance_error"])
            return parent, None, info
        return parent, weights_from_bytes(data), info

    def _warm_start(self, ctrl, spec, cell, misc):
        """Weights for ``cell`` from its parent cell's trial: shared layers copied, the new
        block's path into each cell's output conv zeroed (:func:`cell_build.inherit_weights`)."""
        parent, parent_weights, info = self._parent_weights(ctrl, misc)
        if parent_weights is None:
            return None, info
        try:
            parent_cell = spec.prior.decode(parent["misc"]["vals"][spec.label][0])
            weights = inherit_weights(parent_cell, parent_weights, cell)
        except (KeyError, IndexError, ValueError) as e:  # CellError is a ValueError
            info["inheritance_error"] = (f"could not carry trial {info['parent_tid']}'s weights: {e}; "
                                         f"trained from scratch")
            logger.warning("trial %s: %s", misc.get("tid"), info["inheritance_error"])
            return None, info
        info["weights_inherited"] = True
        return weights, info

    def _inherit(self, ctrl, label, arch, misc):
        parent, parent_weights, info = self._parent_weights(ctrl, misc)
        parent_tid = info["parent_tid"]
        if parent_weights is None:
            return None, info
        try:
            parent_arch = Architecture.from_json(parent["misc"]["vals"][label][0])
            child, weights = chain_weights(parent_arch, parent_weights, misc.get("nas_ops", []))
        except (ArchitectureError, MorphismError, KeyError, IndexError, ValueError) as e:
            info["inheritance_error"] = f"could not carry trial {parent_tid}'s weights: {e}; trained from scratch"
            logger.warning("trial %s: %s", misc.get("tid"), info["inheritance_error"])
            return None, info
        if child.hash != arch.hash:
            info["inheritance_error"] = (
                f"the operations from trial {parent_tid} do not lead to this architecture; trained from scratch")
            return None, info
        info["weights_inherited"] = True
        return weights, info

    # -- training ---------------------------------------------------------------------------------

    def check_architecture(self, arch):
        """Raise ValueError if ``arch`` does not fit this objective's data."""
        sample_shape = self.x_train.shape[1:]
        if arch.input_shape != sample_shape:
            raise ValueError(
                f"the architecture takes inputs of shape {arch.input_shape} but the data's samples "
                f"have shape {sample_shape}; give the space (nas.space.cnn or nas.space.cells) "
                f"input_shape={sample_shape}"
            )
        n_labels = int(max(self.y_train.max(), self.y_val.max())) + 1
        if n_labels > arch.num_classes:
            raise ValueError(
                f"the data has labels up to {n_labels - 1} but the architecture has "
                f"{arch.num_classes} classes; give the space (nas.space.cnn or nas.space.cells) "
                f"num_classes={n_labels}"
            )

    def _optimizer(self, learning_rate):
        import keras

        if callable(self.optimizer):
            return self.optimizer(learning_rate)
        return keras.optimizers.get({"class_name": self.optimizer,
                                     "config": {"learning_rate": learning_rate}})

    def train(self, arch, initial_weights=None, max_params=None, seed=None, learning_rate=None,
              batch_size=None, fill_missing=False, ctrl=None):
        """Train ``arch`` (optionally from ``initial_weights``); returns ``(result, weights)``.

        ``initial_weights`` must cover every weighted layer unless ``fill_missing``, which
        keeps the fresh initialization of the layers it lacks. With ``pruning`` on, each epoch
        is reported through ``ctrl.report`` (``hpo.report`` when ``ctrl`` is None).

        ``weights`` is None when the trial failed (too large, NaN loss); a pruned trial's
        result has status ``"pruned"`` and its weights are returned.
        """
        import keras

        from ..keras import PruningCallback

        arch = Architecture.from_json(arch)
        self.check_architecture(arch)
        n_params = arch.count_params()
        base = {"n_params": n_params, "arch_hash": arch.hash}
        if max_params is not None and n_params > max_params:
            return {"status": "fail", "error": f"{n_params} parameters is more than max_params={max_params}",
                    **base}, None
        learning_rate = self.learning_rate if learning_rate is None else float(learning_rate)
        batch_size = self.batch_size if batch_size is None else int(batch_size)
        start = time.monotonic()
        try:
            model = build_keras(arch, seed=self.seed if seed is None else seed)
            if initial_weights is not None:
                if fill_missing:
                    # A warm-started cell gets weights for the layers it shares with its
                    # parent; the others keep the fresh initialization just made.
                    initial_weights = {**get_weights(model, arch), **initial_weights}
                set_weights(model, arch, initial_weights)
            model.compile(optimizer=self._optimizer(learning_rate),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            before = accuracy(model, self.x_val, self.y_val)
            callbacks = [keras.callbacks.TerminateOnNaN()]
            if self.early_stopping:
                callbacks.append(keras.callbacks.EarlyStopping(
                    monitor="val_accuracy", patience=self.early_stopping, restore_best_weights=True))
            pruning = None
            if self.pruning:
                # The reported loss is the one this objective returns (1 - val_accuracy), so a
                # pruned trial's last report ranks with the finished trials' losses. Not
                # raising lets the weights be kept before the trial ends as pruned.
                pruning = PruningCallback(monitor="val_accuracy", to_loss=lambda acc: 1.0 - acc,
                                          ctrl=ctrl, raise_pruned=False)
                callbacks.append(pruning)
            history = model.fit(self.x_train, self.y_train, batch_size=batch_size, epochs=self.epochs,
                                validation_data=(self.x_val, self.y_val), callbacks=callbacks,
                                verbose=self.verbose)
            losses = history.history.get("loss", [])
            weights = get_weights(model, arch)
            finite = all(math.isfinite(v) for v in losses) and all(
                np.isfinite(w).all() for ws in weights.values() for w in ws)
            if not finite:
                return {"status": "fail", "error": "the training loss became NaN or infinite",
                        "epochs": len(losses), **base}, None
            val_accuracy = accuracy(model, self.x_val, self.y_val)
        finally:
            keras.backend.clear_session()
        status, loss = "ok", 1.0 - val_accuracy
        if pruning is not None and pruning.pruned:
            # Recorded with the loss of its last report, as every pruned trial is.
            status, loss = "pruned", pruning.reports[-1][1]
            base["pruned_at_epoch"] = pruning.pruned_step
        return {
            "loss": loss, "status": status, "val_accuracy": val_accuracy,
            "accuracy_before_training": before, "epochs": len(losses),
            "learning_rate": learning_rate, "batch_size": batch_size,
            "train_seconds": time.monotonic() - start, **base,
        }, weights
