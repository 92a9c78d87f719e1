"""Finding the cell parameter of a one-shot search's space, and writing suggestions for it."""

from __future__ import annotations

import numpy as np

from ...algos import rand
from ..cell_space import CellPrior


def find_cell_param(compiled, label=None):
    """The compiled space's row of its ``nas.space.cells`` parameter (``label``, or the only
    one). Raises ValueError saying what the space holds instead."""
    found = [spec for spec in compiled.params if spec.is_object and isinstance(spec.prior, CellPrior)]
    if label is not None:
        found = [spec for spec in found if spec.label == label]
    if len(found) != 1:
        labels = [spec.label for spec in compiled.params]
        what = f" labelled {label!r}" if label is not None else ""
        raise ValueError(
            f"a one-shot search needs a space with exactly one nas.space.cells parameter{what}; "
            f"this space has {len(found)} among its parameters {labels}"
            + ("; pass label= to pick one" if len(found) > 1 and label is None else ""))
    spec = found[0]
    if not spec.always_active:
        raise ValueError(f"the cell parameter {spec.label!r} must be always active (not inside an hp.choice)")
    return spec


def random_cell(prior, rng):
    """A cell with exactly ``prior.max_blocks`` blocks, every input and op uniform among those
    allowed; cells over ``max_params`` are drawn again."""
    for _ in range(100):
        blocks = []
        for b in range(prior.max_blocks):
            i1, i2 = (int(v) for v in rng.integers(-prior.lookback, b, size=2))
            o1, o2 = (int(v) for v in rng.integers(len(prior.op_names), size=2))
            blocks.append((i1, prior.op_names[o1], i2, prior.op_names[o2]))
        cell = prior.decode(blocks)
        if prior.fits(cell):
            return cell
    raise ValueError(f"no cell of {prior.max_blocks} blocks drawn in 100 tries has at most "
                     f"max_params={prior.max_params} weights; raise max_params or lower filters")


def _other_params_suggest():
    try:
        from ...algos import tpe
    except ImportError:
        return rand.suggest
    return tpe.suggest


def documents(new_ids, domain, trials, seed, spec, cells, misc_key=None, infos=None):
    """Trial documents for ``cells`` (one per id); the space's other parameters come from TPE
    (random search when the space has none). ``infos[k]`` goes to ``misc[misc_key]``."""
    ids = list(new_ids[: len(cells)])
    others = [p for p in domain.compiled.params if p is not spec]
    docs = (_other_params_suggest() if others else rand.suggest)(ids, domain, trials, seed)
    for k, (doc, cell) in enumerate(zip(docs, cells)):
        misc = doc["misc"]
        misc["vals"][spec.label] = [cell.to_json()]
        misc["idxs"][spec.label] = [doc["tid"]]
        misc["nas_hash"] = cell.hash
        if misc_key is not None:
            misc[misc_key] = infos[k]
    return docs[: len(cells)]


def finished_rewards(trials, spec):
    """``[(tid, cell json, accuracy)]`` of ok trials with a finite loss, in tid order; the
    reward of a trial is ``1 - loss`` (its validation accuracy for the nas objectives)."""
    history = trials.history
    losses = dict(zip(history.tids.tolist(), zip(history.ok.tolist(), history.losses.tolist())))
    out = []
    for doc in trials.trials:
        ok, loss = losses.get(doc["tid"], (False, np.nan))
        stored = doc["misc"]["vals"].get(spec.label)
        if ok and stored and np.isfinite(loss):
            out.append((doc["tid"], stored[0], 1.0 - float(loss)))
    out.sort(key=lambda row: row[0])
    return out
