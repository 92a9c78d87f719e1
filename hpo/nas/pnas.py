"""Progressive neural architecture search (PNAS, Liu et al. 2018) as an ``algo=`` plugin.

``suggest`` searches the space's *progressive parameter* (``nas.space.cells``, or any prior
of the protocol in :mod:`hpo.nas.progressive`, e.g. over a tabular benchmark's cells) level
by level:

1. level 1 proposes every distinct initial value (``prior.initial_values()``), or the first
   ``k1`` of a seeded permutation of them;
2. when every proposal of a level has finished, a :class:`~hpo.nas.predictor.Predictor`
   ensemble is fitted on all evaluated values; the ``beam`` best values of the level are
   expanded by one step (more parents are taken while the expansions number fewer than
   ``beam``); the predictor ranks the unevaluated expansions by ``mean - beta * std`` of the
   predicted loss (losses are minimized, so ``beta > 0`` is optimism about uncertain values,
   a lower confidence bound; ``beta = 0``, the default, ranks by the mean), and the top
   ``beam`` are proposed;
3. at the maximum level (values whose ``expand()`` is ``[]``) it goes on in rounds: refit,
   expand the best ``round_parents`` evaluated values below the maximum level (any level,
   best loss first; more while their unevaluated expansions number fewer than ``beam``),
   propose the next-best ``beam``.

No value is proposed twice (canonical hashes of every trial, finished or pending). When
more ids are asked for than the level needs (parallel workers, ``max_queue_len > 1``), the
extra ids get the next-ranked candidates of the current ranking, then the best-ranked
unevaluated expansions of the best evaluated values: pnas returns ``[]`` (which ends
``fmin``) only when no unevaluated value is reachable at all. Each document says why it was
proposed in ``misc["pnas"] = {"level", "rank", "reason"}`` (``reason`` is ``"initial"``,
``"beam"`` or ``"fill"``; ``rank`` counts from 1 in the level's ranking), records the
evaluated parent in ``misc["from_tid"]`` (weight inheritance) and the value's hash in
``misc["nas_hash"]``. Other parameters of the space (a learning rate) are proposed by TPE.

State (level, ranking, predictor) lives in ``trials.attachments[STATE_PREFIX + label]``;
which proposals were made is read from the trials themselves, so a search resumed after a
kill (``trials_save_file``, SQLite or MongoDB stores) re-proposes a lost proposal instead of
skipping it. The predictor's Spearman rank correlation with the true losses of each new
level, measured *before* it is trained on that level, is logged (logger
``"hpo.nas.pnas"``) and stored as UTF-8 JSON in ``trials.attachments[spearman_key(label)]``:
a list of ``{"level", "round", "spearman", "n"}`` (``spearman`` is None for fewer than two
values or constant predictions).

Options (bind with ``functools.partial``): ``beam`` (8), ``k1`` (None: all initial values),
``beta`` (0.0), ``n_models`` (5), ``predictor`` (``"mlp"``, ``"ridge"``, ``"gp"`` or ``"lstm"``: an
LSTM over the value's tokens, for priors with a ``token_dim`` such as ``nas.space.cells``),
``hidden`` (32),
``epochs`` (400), ``l2`` (1e-3), ``target`` (``"loss"``, or ``"log"`` to fit the shifted log
of the loss, see :mod:`hpo.nas.predictor`), ``round_parents`` (how many of the best evaluated values
each round at the maximum level expands: None for ``beam``, an int, or ``"all"`` to let the
predictor rank the expansions of every evaluated value), ``label`` (the progressive
parameter, when the space has several). ``beam`` or ``k1`` larger than the number of initial
values is clamped to it with a ``UserWarning``; at later levels a level with fewer candidates
than ``beam`` proposes them all.

Two hundred ids on an empty search: the 136 one-block cells, then 64 two-block fills:

>>> from hpo import Trials
>>> from hpo.base import Domain
>>> from hpo.nas import space
>>> domain = Domain(lambda p: 0.0, {"cell": space.cells("cell", (8, 8, 1), 10)})
>>> docs = suggest(list(range(200)), domain, Trials(), seed=0)
>>> [(d["misc"]["pnas"]["level"], d["misc"]["pnas"]["reason"]) for d in (docs[0], docs[135], docs[136])]
[(1, 'initial'), (1, 'initial'), (2, 'fill')]
>>> len({d["misc"]["nas_hash"] for d in docs})
200
"""

from __future__ import annotations

import io
import json
import logging
import warnings

import numpy as np

from ..algos import rand
from .predictor import Predictor
from .progressive import TrialView, find_progressive_param, training_set

logger = logging.getLogger(__name__)

STATE_PREFIX = "hpo.nas.pnas::"
_STATE_VERSION = 2


def spearman_key(label):
    """The attachment holding the predictor's Spearman correlations of parameter ``label``."""
    return STATE_PREFIX + label + "::spearman"


def _other_params_suggest():
    """TPE for the parameters beside the progressive one, or random search without TPE."""
    try:
        from ..algos import tpe
    except ImportError:
        return rand.suggest
    return tpe.suggest


def _options(beam, k1, beta, n_models, predictor, hidden, epochs, l2, round_parents, target):
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
        raise ValueError(f"beam must be an int >= 1, got {beam!r}")
    if k1 is not None and (isinstance(k1, bool) or not isinstance(k1, (int, np.integer)) or k1 < 1):
        raise ValueError(f"k1 must be None or an int >= 1, got {k1!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.number)) or not np.isfinite(beta):
        raise ValueError(f"beta must be a finite number, got {beta!r}")
    if round_parents not in (None, "all") and (isinstance(round_parents, bool) or not isinstance(
            round_parents, (int, np.integer)) or round_parents < 1):
        raise ValueError(f"round_parents must be None, 'all' or an int >= 1, got {round_parents!r}")
    # The constructor validates the predictor's options and names the bad one (the LSTM's
    # token length comes from the prior, checked when the space is known).
    Predictor(n_models=n_models, kind=predictor, hidden=hidden, epochs=epochs, l2=l2, target=target,
              token_dim=1 if predictor == "lstm" else None)
    return {"target": target, "beam": int(beam), "k1": None if k1 is None else int(k1), "beta": float(beta),
            "n_models": int(n_models), "predictor": predictor, "hidden": int(hidden),
            "epochs": int(epochs), "l2": float(l2),
            "round_parents": round_parents if round_parents in (None, "all") else int(round_parents)}


# -- state kept in the trials' attachments -------------------------------------------------------


class _State:
    """The level searched, its ranking (``queue``), the predictor and its record.

    ``queue`` entries are ``{"hash", "parent", "index", "mean", "std"}`` in rank order: the
    value is ``parent``'s ``expand()[index]`` (``initial_values()[index]`` when ``parent`` is
    None), so the state stays small whatever the size of a value's JSON. The
    first ``n_required`` entries are the level's proposals, the rest fill extra ids. ``expanded``
    holds the hashes of values whose expansions are already in the queue; ``trained`` the
    tids the predictor was fitted on.
    """

    def __init__(self, level, round_, queue, n_required, expanded, trained, predictor, spearman):
        self.level, self.round, self.queue, self.n_required = level, round_, queue, n_required
        self.expanded, self.trained, self.predictor = expanded, trained, predictor
        self.spearman = spearman

    @classmethod
    def first_level(cls, prior, label, options, seed):
        initial = list(prior.initial_values())
        if not initial:
            raise ValueError(f"the prior of {label!r} has no initial values")
        n = len(initial)
        if options["beam"] > n:
            warnings.warn(f"beam={options['beam']} is larger than the {n} initial values of {label!r}; "
                          f"each level expands at most {n} values", UserWarning, stacklevel=4)
        required = n
        if options["k1"] is not None:
            if options["k1"] > n:
                warnings.warn(f"k1={options['k1']} is larger than the {n} initial values of {label!r}; "
                              f"all {n} are proposed", UserWarning, stacklevel=4)
            else:
                required = options["k1"]
        queue = [_entry(v, None, i, None, None) for i, v in enumerate(initial)]
        if required < n:
            # A seeded subset; the rest stay in the ranking to fill extra ids.
            queue = [queue[i] for i in np.random.default_rng(seed).permutation(n)]
        return cls(1, 0, queue, required, [], [], None, [])

    def to_bytes(self, options):
        meta = {"version": _STATE_VERSION, "options": options, "level": self.level,
                "round": self.round, "queue": self.queue, "n_required": self.n_required,
                "expanded": self.expanded, "trained": self.trained, "spearman": self.spearman}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        if self.predictor is not None:
            arrays["predictor"] = np.frombuffer(self.predictor.to_bytes(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data, options):
        """The stored state, or None if it was made with other options or another version."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            blob = npz["predictor"].tobytes() if "predictor" in npz.files else None
        if meta.get("version") != _STATE_VERSION or meta.get("options") != options:
            return None
        predictor = Predictor.from_bytes(blob) if blob is not None else None
        return cls(meta["level"], meta["round"], meta["queue"], meta["n_required"],
                   meta["expanded"], meta["trained"], predictor, meta["spearman"])


def _entry(value, parent_hash, index, mean, std):
    return {"hash": value.hash, "parent": parent_hash, "index": index, "mean": mean, "std": std}


class _Values:
    """Turns queue entries back into values: from the initial values or a parent's expansions
    (each expanded once per call). A parent is a trial's value or one chosen in this call."""

    def __init__(self, prior, view):
        self.prior, self.view = prior, view
        self.chosen = {}
        self._initial = None
        self._children = {}

    def value(self, value_hash):
        tids = self.view.by_hash.get(value_hash)
        return self.view.values[tids[0]] if tids else self.chosen.get(value_hash)

    def resolve(self, entry):
        """The entry's value, or None when its parent is gone (a proposal lost in a kill)."""
        parent = entry["parent"]
        if parent is None:
            if self._initial is None:
                self._initial = list(self.prior.initial_values())
            values = self._initial
        else:
            if parent not in self._children:
                value = self.value(parent)
                self._children[parent] = None if value is None else value.expand()
            values = self._children[parent] or []
        value = values[entry["index"]] if entry["index"] < len(values) else None
        return value if value is not None and value.hash == entry["hash"] else None


def _load_state(trials, key, options):
    data = trials.attachments.get(key) if hasattr(trials.attachments, "get") else None
    return _State.from_bytes(data, options) if data else None


# -- ranking and levels ----------------------------------------------------------------------------


def _rank(candidates, predictor, beta):
    """Entries for ``(value, parent_hash)`` pairs, best first (stable: ties keep their order)."""
    if not candidates:
        return []
    if predictor is None:
        return [_entry(v, p, i, None, None) for v, p, i in candidates]
    mean, std = predictor.predict(np.vstack([np.asarray(v.features(), dtype=float) for v, _, _ in candidates]))
    order = np.argsort(mean - beta * std, kind="stable")
    return [_entry(*candidates[i], float(mean[i]), float(std[i])) for i in order]


def _expansions(parents, seen, limit_parents, limit_children):
    """Unseen ``(child, parent hash, index)`` of ``parents`` (best first) until both limits
    are met; and the parents used."""
    children, used, taken = [], [], set()
    for value in parents:
        if len(used) >= limit_parents and len(children) >= limit_children:
            break
        used.append(value.hash)
        for index, child in enumerate(value.expand()):
            if child.hash not in seen and child.hash not in taken:
                taken.add(child.hash)
                children.append((child, value.hash, index))
    return children, used


def _record_spearman(state, view, label, trials):
    """Spearman correlation of the predictor on the level's new values, before fitting on them."""
    from scipy.stats import spearmanr

    trained = set(state.trained)
    rows = [(v, loss) for tid, v, loss in view.ranked_ok(state.level) if tid not in trained]
    if state.predictor is None or not rows:
        return
    rho = None
    if len(rows) >= 2:
        mean, _ = state.predictor.predict(np.vstack([np.asarray(v.features(), dtype=float) for v, _ in rows]))
        losses = [loss for _, loss in rows]
        if np.ptp(mean) > 0 and np.ptp(losses) > 0:
            rho = float(spearmanr(mean, losses).statistic)
    record = {"level": state.level, "round": state.round, "spearman": rho, "n": len(rows)}
    state.spearman.append(record)
    trials.attachments[spearman_key(label)] = json.dumps(state.spearman).encode()
    logger.info("pnas %r level %d round %d: predictor Spearman %s on %d new values", label,
                state.level, state.round, "n/a" if rho is None else f"{rho:.3f}", len(rows))


def _token_dim(prior, options):
    """The prior's token length for the LSTM predictor (None for the other predictors)."""
    if options["predictor"] != "lstm":
        return None
    token_dim = getattr(prior, "token_dim", None)
    if token_dim is None:
        raise ValueError(f"predictor='lstm' reads a value's features as tokens, and the prior "
                         f"{type(prior).__name__} has no token_dim; use predictor='mlp' or 'ridge'")
    return token_dim


def _advance(state, view, options, seed, label, trials):
    """Finish the current level: measure and refit the predictor, rank the next level."""
    _record_spearman(state, view, label, trials)
    ok = view.ranked_ok()
    if ok:
        X, y, groups = training_set([v for _, v, _ in ok], [loss for _, _, loss in ok])
        state.predictor = Predictor(n_models=options["n_models"], kind=options["predictor"],
                                    hidden=options["hidden"], epochs=options["epochs"],
                                    l2=options["l2"], target=options["target"],
                                    token_dim=_token_dim(view.prior, options),
                                    seed=seed).fit(X, y, groups)
    state.trained = sorted(tid for tid, _, _ in ok)
    some = next((v for v in view.values.values() if v.level == state.level), None)
    grows = some is not None and bool(some.expand())
    if grows:
        parents = [v for _, v, _ in view.ranked_ok(state.level)]
        state.level, state.round = state.level + 1, 0
    else:
        # Rounds at the maximum level: the best evaluated values of every level below it, so
        # that when the best parents have no unevaluated children left the search backs up
        # to the next-best values instead of running dry.
        parents = [v for _, v, _ in view.ranked_ok() if v.level < state.level]
        state.round += 1
    beam = options["beam"]
    limit = beam
    if not grows:
        limit = {None: beam, "all": len(parents)}.get(options["round_parents"], options["round_parents"])
    children, used = _expansions(parents, view.seen, limit, beam)
    state.queue = _rank(children, state.predictor, options["beta"])
    state.n_required = min(beam, len(state.queue))
    state.expanded = used
    logger.info("pnas %r: level %d round %d ranks %d expansions of %d parents, proposes %d",
                label, state.level, state.round, len(state.queue), len(used), state.n_required)


def _overflow(state, view, options, chosen):
    """Append the ranked expansions of the next not yet expanded value; False if none is left.

    ``chosen``: values proposed in this call, not yet in the trials.
    """
    expanded = set(state.expanded)
    queued = {e["hash"] for e in state.queue}
    chosen_hashes = {v.hash for v in chosen}
    ok_order = [v for _, v, _ in view.ranked_ok()]
    ok_hashes = {v.hash for v in ok_order}
    # Best evaluated values first, then those running, failed or just chosen (in tid order).
    rest = [view.values[tid] for tid in sorted(view.values) if view.hashes[tid] not in ok_hashes]
    for value in ok_order + rest + list(chosen):
        if value.hash in expanded:
            continue
        expanded.add(value.hash)
        state.expanded.append(value.hash)
        children, _ = _expansions([value], view.seen | queued | chosen_hashes, 1, 0)
        if children:
            state.queue.extend(_rank(children, state.predictor, options["beta"]))
            return True
    return False


# -- suggest -----------------------------------------------------------------------------------------


def suggest(new_ids, domain, trials, seed, beam=8, k1=None, beta=0.0, n_models=5, predictor="mlp",
            hidden=32, epochs=400, l2=1e-3, round_parents=None, target="loss", label=None):
    """Propose up to ``len(new_ids)`` distinct values of the progressive parameter.

    See the module docstring for the method, the options and what the documents record.
    """
    options = _options(beam, k1, beta, n_models, predictor, hidden, epochs, l2, round_parents, target)
    spec = find_progressive_param(domain.compiled, label)
    _token_dim(spec.prior, options)  # a prior the LSTM cannot read fails now, not a level later
    if len(new_ids) == 0:
        return []
    view = TrialView(trials, spec)
    key = STATE_PREFIX + spec.label
    state = _load_state(trials, key, options)
    changed = state is None
    if state is None:
        state = _State.first_level(spec.prior, spec.label, options, seed)

    values = _Values(spec.prior, view)
    picks, chosen = [], set()  # chosen: hashes proposed in this call
    gone = set()  # ranked values whose parent is lost (a proposal killed before it was stored)
    start = 0  # queue entries before this are known to be taken
    may_advance = True
    while len(picks) < len(new_ids):
        taken = view.seen | chosen | gone
        required = state.queue[: state.n_required]
        missing = [i for i, e in enumerate(required) if e["hash"] not in taken]
        if missing:
            i = missing[0]
            reason = "initial" if state.level == 1 and state.round == 0 else "beam"
        elif may_advance and not any(view.is_pending(e["hash"]) or e["hash"] in chosen for e in required) \
                and (state.queue or set(state.trained) != set(view.ok)):
            _advance(state, view, options, seed, spec.label, trials)
            changed = True
            # One level per call when it yields nothing new: the same data would rank the same.
            may_advance = bool(state.queue)
            continue
        else:
            i = next((j for j in range(max(start, state.n_required), len(state.queue))
                      if state.queue[j]["hash"] not in taken), None)
            if i is None:
                if not _overflow(state, view, options, list(values.chosen.values())):
                    break
                changed = True
                continue
            start, reason = i, "fill"
        entry = state.queue[i]
        value = values.resolve(entry)
        if value is None:
            logger.warning("pnas %r: the parent of ranked value %s is gone; it is skipped",
                           spec.label, entry["hash"])
            gone.add(entry["hash"])
            continue
        chosen.add(entry["hash"])
        values.chosen[entry["hash"]] = value
        picks.append((entry, value, i + 1, reason))
    if changed:
        trials.attachments[key] = state.to_bytes(options)
    if not picks:
        return []
    return _documents(picks, new_ids, domain, trials, seed, spec, view)


def _documents(picks, new_ids, domain, trials, seed, spec, view):
    ids = list(new_ids[: len(picks)])
    others = [p for p in domain.compiled.params if p is not spec]
    docs = (_other_params_suggest() if others else rand.suggest)(ids, domain, trials, seed)
    for doc, (entry, value, rank, reason) in zip(docs, picks):
        misc = doc["misc"]
        misc["vals"][spec.label] = [value.to_json()]
        misc["idxs"][spec.label] = [doc["tid"]]
        misc["nas_hash"] = entry["hash"]
        misc["pnas"] = {"level": int(value.level), "rank": rank, "reason": reason}
        parent_tid = view.evaluated_tid(entry["parent"]) if entry["parent"] else None
        if parent_tid is not None:
            misc["from_tid"] = int(parent_tid)
    return docs[: len(picks)]
