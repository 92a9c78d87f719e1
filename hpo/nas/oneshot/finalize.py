"""The end of every one-shot search: retrain the best children from scratch, export the best.

A supernet's accuracy of a child is a ranking signal, not the accuracy the child reaches on
its own. :func:`finalize` takes the ``top_k`` distinct children with the best shared-weight
accuracy, trains each from scratch with a :class:`~hpo.nas.KerasObjective` (one ordinary
``fmin`` run over ``points_to_evaluate``), exports the best retrained network with
:func:`~hpo.nas.export_best`, and reports both accuracies of every child.
"""

from __future__ import annotations

import logging

import numpy as np

from ...base import Trials
from ...spaces import compile_space
from ...spaces.custom import custom
from ..cell_space import CellPrior
from ..export import export_best
from ..objective import KerasObjective, accuracy
from ._space import find_cell_param, finished_rewards

logger = logging.getLogger(__name__)


def _cell_spec(trials, space, label, shared):
    if space is not None:
        return find_cell_param(compile_space(space), label)
    net = getattr(shared, "supernet", None)
    if net is not None:
        labels = [find_cell_param(c).label for c in shared._compiled.values()]
        label = label or (labels[0] if labels else None)
        if label is not None:
            return _Spec(label, net.prior)
    found = {k for t in trials.trials for k, v in t["misc"]["vals"].items()
             if v and isinstance(v[0], dict) and "cell" in v[0] and (label is None or k == label)}
    if len(found) != 1:
        raise ValueError(f"finalize: the trials hold cell values under {sorted(found)}; pass space= "
                         f"(the search's space) or label=")
    label = found.pop()
    value = next(t["misc"]["vals"][label][0] for t in trials.trials if t["misc"]["vals"].get(label))
    return _Spec(label, CellPrior.from_cell_json(value))


class _Spec:
    def __init__(self, label, prior):
        self.label, self.prior = label, prior


def best_children(trials, label, prior, top_k):
    """``[(tid, cell, shared accuracy)]`` of the ``top_k`` best distinct cells, best first
    (ties: earlier trial first)."""
    rows = []
    for tid, value, reward in finished_rewards(trials, _Spec(label, prior)):
        try:
            rows.append((-reward, tid, prior.decode(value)))
        except ValueError:
            continue
    rows.sort(key=lambda r: (r[0], r[1]))
    out, seen = [], set()
    for neg, tid, cell in rows:
        if cell.hash not in seen:
            seen.add(cell.hash)
            out.append((tid, cell, -neg))
        if len(out) == top_k:
            break
    return out


def finalize(trials, retrain, path, top_k=3, space=None, label=None, x_test=None, y_test=None,
             shared=None, rstate=None):
    """Retrain the ``top_k`` best children of a one-shot search from scratch and export the best.

    ``retrain`` is a :class:`~hpo.nas.KerasObjective` (its data, epochs and seed decide the
    retraining); ``path`` the ``.keras`` file to write. ``space`` (or ``label``) says which
    cell parameter when it cannot be read from the trials. ``shared``, the search's
    :class:`~hpo.nas.oneshot.SharedWeightsObjective`, has its supernet saved into ``trials``
    first (the end-of-search save). With ``x_test, y_test`` the reloaded exported model is
    scored on them.

    Returns a dict: ``path``, ``children`` (per child ``{"tid", "cell", "shared_accuracy",
    "retrained_accuracy"}``, in the order of their shared-weight accuracy), ``best`` (the
    exported child's entry), ``test_accuracy`` (None without test data), ``retrain_trials``
    (the :class:`~hpo.Trials` of the retraining run, whose trials hold the trained weights).

    >>> # fmin(SharedWeightsObjective(...), space, algo=nas.enas.suggest, trials=trials, ...)
    >>> # report = nas.oneshot.finalize(trials, nas.KerasObjective(x, y, xv, yv, epochs=10),
    >>> #                               "best.keras", top_k=3, x_test=xt, y_test=yt)
    >>> # report["best"]["shared_accuracy"], report["best"]["retrained_accuracy"]
    """
    from ... import fmin

    if not isinstance(retrain, KerasObjective):
        raise TypeError(f"retrain must be an hpo.nas.KerasObjective (it trains each child from "
                        f"scratch), got {retrain!r:.200}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be an int >= 1, got {top_k!r}")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    spec = _cell_spec(trials, space, label, shared)
    if shared is not None:
        shared.save(trials, spec.label)
    children = best_children(trials, spec.label, spec.prior, int(top_k))
    if not children:
        raise ValueError("finalize: the trials hold no finished child with a loss; run the search first")
    retrain_trials = Trials()
    points = [{spec.label: cell.to_json()} for _, cell, _ in children]
    fmin(retrain, {spec.label: custom(spec.label, spec.prior)}, points_to_evaluate=points,
         max_evals=len(points), trials=retrain_trials, show_progressbar=False,
         rstate=rstate or np.random.default_rng(0))
    rows = []
    for (tid, cell, shared_acc), doc in zip(children, retrain_trials.trials):
        result = doc["result"]
        rows.append({"tid": tid, "cell": [list(b) for b in cell.blocks], "shared_accuracy": shared_acc,
                     "retrained_accuracy": result.get("val_accuracy"), "retrain_tid": doc["tid"],
                     "status": result.get("status")})
        logger.info("child of trial %s: shared-weight accuracy %.4f, retrained %s", tid, shared_acc,
                    result.get("val_accuracy"))
    export_best(retrain_trials, path, spec.label)
    best_tid = retrain_trials.best_trial["tid"]
    best = next(r for r in rows if r["retrain_tid"] == best_tid)
    test_accuracy = None
    if x_test is not None:
        import keras

        model = keras.models.load_model(path)
        test_accuracy = accuracy(model, np.asarray(x_test, "float32"), np.asarray(y_test))
    return {"path": path, "children": rows, "best": best, "test_accuracy": test_accuracy,
            "retrain_trials": retrain_trials}
