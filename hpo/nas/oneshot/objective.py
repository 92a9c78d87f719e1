"""``SharedWeightsObjective``: each trial's child cell trains a few minibatches on its path
through one supernet, then is scored on validation data.

>>> import numpy as np
>>> from hpo import Trials, fmin
>>> from hpo.nas import space
>>> from hpo.nas.oneshot import SharedWeightsObjective, random
>>> rng = np.random.default_rng(0)
>>> x, y = rng.random((64, 8, 8, 1)), rng.integers(0, 3, 64)
>>> objective = SharedWeightsObjective(x, y, x, y, train_steps=2, batch_size=16)
>>> trials = Trials()
>>> cells = space.cells("cell", (8, 8, 1), 3, blocks=1, ops=["identity", "conv_1x1"], filters=4)
>>> _ = fmin(objective, {"cell": cells}, algo=random.suggest, max_evals=2, trials=trials,
...          show_progressbar=False)
>>> [t["result"]["supernet_steps"] for t in trials]
[2, 4]
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ...spaces import compile_space, space_eval
from ..objective import _as_images, _as_labels
from ._space import find_cell_param
from .supernet import Supernet

logger = logging.getLogger(__name__)

#: The supernet's weights and optimizer state are stored in ``trials.attachments[SUPERNET_PREFIX + label]``.
SUPERNET_PREFIX = "hpo.nas.oneshot::supernet::"
# A worker that registered within this many seconds counts as live (workers re-register
# every 5 s; a killed one drops out after this long).
_LIVE_WITHIN = 12.0


class SupernetSharingError(RuntimeError):
    """Raised when several workers would train copies of one supernet."""


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


class SharedWeightsObjective:
    """An ``fmin`` objective over a ``nas.space.cells`` space whose children share weights.

    For each trial it trains the trial's cell ``train_steps`` minibatches of ``batch_size``
    on its path through the :class:`~hpo.nas.oneshot.Supernet` (built on the first trial from
    the space, with exactly the space's ``blocks`` blocks), then evaluates it on the
    validation data (batch statistics, chunks of ``eval_batch_size``) and returns::

        {"loss": 1 - val_accuracy, "status": "ok", "val_accuracy", "shared_weights": True,
         "train_loss", "supernet_steps", "train_seconds", "eval_seconds"}

    ``eval_samples`` (optional) scores every child on that many validation samples instead
    of all: a subset drawn once with ``seed`` and the same for every child, so children stay
    comparable with each other. Scoring is a forward pass over those samples per child; with
    few training steps per child it is a sizeable share of a child's cost (about a fifth for
    15 steps of 64 and 1,500 scored images of 14x14), and ranking children needs fewer
    samples than measuring a final accuracy::

        SharedWeightsObjective(x, y, x_val, y_val, train_steps=15, eval_samples=500)

    ``learning_rate`` (Adam) can be overridden per trial by a top-level ``learning_rate``
    entry of the space. A step whose loss (or weights) becomes NaN or infinite fails the
    trial (status ``fail``) and puts back the supernet's state from before the trial; the
    search goes on.

    The supernet's weights and optimizer state are stored in
    ``trials.attachments[SUPERNET_PREFIX + label]`` every ``save_every`` trials and by
    :meth:`save` (which :func:`~hpo.nas.oneshot.finalize` calls), and loaded from there on
    the first trial, so a killed search resumed from its ``trials_save_file`` or store
    continues from the last saved supernet.

    The supernet lives in the process that runs the trials. Several workers would each
    train their own copy and overwrite each other's saved weights, so the objective declares
    ``max_workers = 1`` (``fmin(n_workers=2)`` is refused before any worker starts) and, for
    ``hpo-worker`` processes started by hand, raises :class:`SupernetSharingError` in a trial
    when another worker serves the experiment: use ``n_workers=1`` (or one ``hpo-worker``).

    ``supernet`` (optional) is a :class:`~hpo.nas.oneshot.Supernet` to use; its block count
    must be the space's. ``seed`` fixes the supernet's initial weights and the minibatches.

    >>> SharedWeightsObjective(np.zeros((4, 8, 8, 1)), [0, 1, 0, 1], np.zeros((4, 8, 8, 1)),
    ...                        [0, 1, 0, 1], batch_size=8)
    Traceback (most recent call last):
    ...
    ValueError: x_train has 4 samples, fewer than one minibatch (batch_size=8); lower batch_size
    """

    fmin_pass_expr_memo_ctrl = True
    max_workers = 1
    max_workers_reason = ("the objective holds one supernet in one process; several workers "
                          "would each train their own copy and overwrite the others' saved "
                          "weights. Run the search with n_workers=1 (or one hpo-worker)")

    def __init__(self, x_train, y_train, x_val, y_val, train_steps=50, batch_size=64, learning_rate=2e-3,
                 save_every=10, eval_batch_size=256, seed=0, supernet=None, eval_samples=None):
        self.x_train = _as_images("x_train", x_train)
        self.y_train = _as_labels("y_train", y_train, len(self.x_train))
        self.x_val = _as_images("x_val", x_val)
        self.y_val = _as_labels("y_val", y_val, len(self.x_val))
        if self.x_val.shape[1:] != self.x_train.shape[1:]:
            raise ValueError(f"x_val's samples have shape {self.x_val.shape[1:]}, x_train's {self.x_train.shape[1:]}")
        self.train_steps = _positive_int("train_steps", train_steps)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.save_every = _positive_int("save_every", save_every)
        self.eval_batch_size = _positive_int("eval_batch_size", eval_batch_size)
        if len(self.x_train) < self.batch_size:
            raise ValueError(f"x_train has {len(self.x_train)} samples, fewer than one minibatch "
                             f"(batch_size={self.batch_size}); lower batch_size")
        if len(self.x_val) == 0:
            raise ValueError("x_val has no samples; children are scored on validation data")
        if eval_samples is not None:
            eval_samples = _positive_int("eval_samples", eval_samples)
            if eval_samples < len(self.x_val):
                keep = np.sort(np.random.default_rng(int(seed)).choice(len(self.x_val), eval_samples, replace=False))
                self.x_val, self.y_val = self.x_val[keep], self.y_val[keep]
        self.eval_samples = eval_samples
        learning_rate = float(learning_rate)
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        self.learning_rate = learning_rate
        self.seed = int(seed)
        if supernet is not None and not isinstance(supernet, Supernet):
            raise TypeError(f"supernet must be an hpo.nas.oneshot.Supernet or None, got {supernet!r:.200}")
        self.supernet = supernet
        self._compiled = {}
        self._loaded_for = None  # id of the trials whose stored supernet was looked for
        self._since_save = 0

    def __getstate__(self):
        # A worker rebuilds the supernet from the space and the stored state; Keras and
        # TensorFlow objects do not travel.
        state = dict(self.__dict__, supernet=None, _compiled={}, _loaded_for=None, _since_save=0)
        return state

    # -- fmin entry point -----------------------------------------------------------------------

    def __call__(self, expr, memo, ctrl=None):
        compiled = self._compiled.get(id(expr))
        if compiled is None:
            compiled = self._compiled[id(expr)] = compile_space(expr)
        spec = find_cell_param(compiled)
        self._check_single_worker(ctrl)
        supernet = self._supernet_for(spec)
        trials = getattr(ctrl, "trials", None)
        if trials is not None and self._loaded_for != id(trials):
            self._loaded_for = id(trials)
            self._load(trials, spec.label)
        cell = spec.prior.decode(memo[spec.label])
        path = supernet.path(cell)
        params = space_eval(expr, memo)
        settings = params if isinstance(params, dict) else {}
        learning_rate = float(settings.get("learning_rate", self.learning_rate))
        doc = getattr(ctrl, "current_trial", None)
        tid = int(doc["tid"]) if doc is not None else supernet.steps
        before = supernet.snapshot()
        start = time.monotonic()
        losses = supernet.train(self.x_train, self.y_train, path, self.train_steps, self.batch_size,
                                np.random.default_rng([self.seed, tid]), learning_rate)
        train_seconds = time.monotonic() - start
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size or not supernet.all_finite():
            supernet.restore(before)
            supernet.steps -= self.train_steps
            where = f"at step {int(bad[0]) + 1} of {self.train_steps}" if bad.size else "in its weights"
            logger.warning("trial %s: the supernet's loss became NaN or infinite %s; its state from "
                           "before the trial was put back", tid, where)
            return {"status": "fail", "shared_weights": True,
                    "error": f"the supernet's training loss became NaN or infinite {where} "
                             f"(learning_rate={learning_rate}); the supernet's state from before "
                             f"this trial was put back"}
        start = time.monotonic()
        val_accuracy = supernet.accuracy(self.x_val, self.y_val, path, self.eval_batch_size)
        eval_seconds = time.monotonic() - start
        self._since_save += 1
        if trials is not None and self._since_save >= self.save_every:
            self.save(trials, spec.label)
        return {"loss": 1.0 - val_accuracy, "status": "ok", "val_accuracy": val_accuracy,
                "shared_weights": True, "train_loss": float(losses[-1]),
                "supernet_steps": supernet.steps, "learning_rate": learning_rate,
                "train_seconds": train_seconds, "eval_seconds": eval_seconds}

    # -- the supernet -----------------------------------------------------------------------------

    def _supernet_for(self, spec):
        prior = spec.prior
        if self.supernet is None:
            self._check_data(prior)
            self.supernet = Supernet(prior, seed=self.seed)
        elif self.supernet.identity() != {**prior.identity(), "blocks": prior.max_blocks}:
            net = self.supernet
            if net.blocks != prior.max_blocks:
                raise ValueError(f"the space's cell parameter {spec.label!r} has blocks="
                                 f"{prior.max_blocks}; the supernet was built for blocks={net.blocks}. "
                                 f"Build the supernet from this space (Supernet(space)) or drop supernet=")
            raise ValueError(f"the supernet was built for another cell space ({net.identity()}) than "
                             f"{spec.label!r} ({prior.identity()})")
        return self.supernet

    def _check_data(self, prior):
        if self.x_train.shape[1:] != prior.input_shape:
            raise ValueError(f"the data's samples have shape {self.x_train.shape[1:]} but the cell space "
                             f"takes input_shape={prior.input_shape}")
        n_labels = int(max(self.y_train.max(), self.y_val.max())) + 1
        if n_labels > prior.num_classes:
            raise ValueError(f"the data has labels up to {n_labels - 1} but the cell space has "
                             f"num_classes={prior.num_classes}")

    def _load(self, trials, label):
        data = trials.attachments.get(SUPERNET_PREFIX + label)
        if data is not None:
            extra = self.supernet.load_bytes(data)
            logger.info("supernet of %r loaded from the trials (%s steps, %s trials)", label,
                        self.supernet.steps, extra.get("trials"))

    def save(self, trials, label=None):
        """Store the supernet's state in ``trials.attachments[SUPERNET_PREFIX + label]``
        (``label``: the cell parameter; needed only before the first trial ran)."""
        if self.supernet is None:
            return
        if label is None:
            labels = [spec.label for c in self._compiled.values() for spec in [find_cell_param(c)]]
            if len(set(labels)) != 1:
                raise ValueError("save(): pass label=, the cell parameter's label")
            label = labels[0]
        trials.attachments[SUPERNET_PREFIX + label] = self.supernet.to_bytes({"label": label})
        self._since_save = 0

    def _check_single_worker(self, ctrl):
        trials = getattr(ctrl, "trials", None)
        store = getattr(trials, "store", None)
        if store is None:
            return
        owner = (getattr(ctrl, "current_trial", None) or {}).get("owner")
        others = [w for w in store.live_workers(trials.exp_key, _LIVE_WITHIN) if w.get("worker_id") != owner]
        if others:
            raise SupernetSharingError(
                f"SharedWeightsObjective holds one supernet in one process, but {len(others) + 1} "
                f"workers serve experiment {trials.exp_key!r}: each would train its own copy and "
                f"overwrite the others' saved weights. Run the search with n_workers=1 (or one "
                f"hpo-worker).")
