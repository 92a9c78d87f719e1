"""Turning trials back into Keras models: the trained network of a trial, the best one.

>>> # after fmin(KerasObjective(...), space, algo=nas.morphism_bo.suggest, trials=trials):
>>> # export_best(trials, "best.keras"); keras.models.load_model("best.keras")
"""

from __future__ import annotations

import os

from .arch import Architecture
from .keras_build import build_keras, set_weights, weights_from_bytes
from .objective import WEIGHTS_ATTACHMENT


def _arch_of(doc, label):
    vals = doc["misc"]["vals"]
    if label is None:
        found = [v[0] for v in vals.values() if v and isinstance(v[0], dict) and "layers" in v[0]]
        if len(found) != 1:
            raise ValueError(f"trial {doc['tid']} has {len(found)} architecture values; pass label=")
        return Architecture.from_json(found[0])
    return Architecture.from_json(vals[label][0])


def trial_model(trials, doc, label=None):
    """The trained ``keras.Model`` of trial ``doc`` (from its ``nas_weights`` attachment).

    Raises ``ValueError`` when the trial has no stored weights.
    """
    data = trials.trial_attachments(doc).get(WEIGHTS_ATTACHMENT)
    if data is None:
        raise ValueError(f"trial {doc['tid']} has no stored weights (attachment {WEIGHTS_ATTACHMENT!r})")
    arch = _arch_of(doc, label)
    model = build_keras(arch)
    set_weights(model, arch, weights_from_bytes(data))
    return model


def export_best(trials, path, label=None):
    """Write the best trial's trained network to ``path`` (a ``.keras`` file) and return the
    path; ``keras.models.load_model(path)`` reads it back (uncompiled).

    ``label`` names the architecture parameter when the space has several.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"path must end with .keras, got {path!r}")
    model = trial_model(trials, trials.best_trial, label)
    model.save(path)
    return path
