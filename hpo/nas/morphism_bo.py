"""Neural architecture search by network morphism and Bayesian optimization (Auto-Keras).

``suggest`` is an ordinary ``algo=`` plugin for spaces that hold one
:func:`hpo.nas.space.cnn` parameter:

1. it first proposes the space's initial architecture(s);
2. then it fits a Gaussian process to the losses of the trained architectures, with the
   edit-distance kernel of :mod:`hpo.nas.kernel`, and searches chains of morphisms rooted at
   the trained architectures by simulated annealing for the lowest lower confidence bound
   ``mean - beta * std`` of the loss (:mod:`hpo.nas.acquisition`);
3. each proposal's document records the trained root in ``misc["from_tid"]`` and the chain
   of operations in ``misc["nas_ops"]``, so :class:`hpo.nas.KerasObjective` starts the child
   from the root's trained weights.

No architecture is proposed twice (canonical hashes of every trial, finished or pending), a
batch of ``k`` ids gets ``k`` distinct architectures, and the output depends only on the
trials and the seed. The GP lives in ``trials.attachments`` between calls, and grows by one
observation per newly finished trial. Other parameters of the space (a learning rate, ...)
are proposed by TPE.

Options (bind with ``functools.partial``): ``beta`` (2.576), ``t_start`` (1.0), ``t_min``
(1e-4), ``decay`` (0.9), ``n_children`` (8), ``max_ops`` (4, the longest chain of operations
from a trained network), ``n_references`` (16, architectures that fix
the kernel's embedding), ``length_scale`` (None: median heuristic), ``noise`` (GP noise
variance in normalized units, 1e-3), ``skip_weight`` (1.0, the lambda of the distance),
``label`` (which architecture parameter, if the space has several).

>>> import functools, numpy as np
>>> from hpo import Trials, hp
>>> from hpo.base import Domain
>>> from hpo.nas import space
>>> domain = Domain(lambda p: 0.0, {"arch": space.cnn("arch", (8, 8, 1), 10),
...                                  "lr": hp.loguniform("lr", -8, -4)})
>>> doc, = suggest([0], domain, Trials(), seed=1)
>>> doc["misc"]["nas_ops"], "from_tid" in doc["misc"]
([], False)
"""

from __future__ import annotations

import io
import json

import numpy as np

from ..algos import rand
from .acquisition import anneal_search
from .arch import Architecture, ArchitectureError
from .gp import GaussianProcess
from .kernel import EditDistanceKernel
from .morphisms import random_chain
from .space import find_arch_param

STATE_PREFIX = "hpo.nas.morphism_bo::"
_STATE_VERSION = 1
# References for the kernel embedding come from a fixed seed, not the suggest seed: the
# kernel must stay the same across calls for the GP to be updated incrementally.
_REFERENCE_SEED = 20190725


def _other_params_suggest():
    """TPE for the parameters beside the architecture, or random search without TPE."""
    try:
        from ..algos import tpe
    except ImportError:
        return rand.suggest
    return tpe.suggest


def _options(beta, t_start, t_min, decay, n_children, n_references, length_scale, noise, skip_weight):
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    if int(n_children) < 1:
        raise ValueError(f"n_children must be >= 1, got {n_children!r}")
    if int(n_references) < 1:
        raise ValueError(f"n_references must be >= 1, got {n_references!r}")
    return {"n_references": int(n_references), "skip_weight": float(skip_weight),
            "length_scale": None if length_scale is None else float(length_scale),
            "noise": float(noise)}


# -- state kept in the trials' attachments -----------------------------------------------------


class _State:
    """Kernel (references + embedding subsets), the GP, and which trials it has seen."""

    def __init__(self, kernel, gp, folded):
        self.kernel, self.gp, self.folded = kernel, gp, folded

    @classmethod
    def new(cls, prior, options):
        rng = np.random.default_rng(_REFERENCE_SEED)
        references = list(prior.initial)
        # Random chains of growing length cover the neighbourhood a search moves through.
        while len(references) < options["n_references"]:
            base = prior.initial[int(rng.integers(len(prior.initial)))]
            length = 1 + len(references) % (2 * prior.max_random_ops + 1)
            references.append(random_chain(base, rng, length, max_params=prior.max_params)[1])
        kernel = EditDistanceKernel(references[: options["n_references"]], rng,
                                    length_scale=options["length_scale"],
                                    skip_weight=options["skip_weight"])
        return cls(kernel, GaussianProcess(kernel.gram, noise=options["noise"]), [])

    def to_bytes(self, options):
        meta = {"version": _STATE_VERSION, "options": options, "folded": self.folded,
                "references": [r.to_json() for r in self.kernel.references],
                "subsets": self.kernel.subsets, "length_scale": self.kernel.length_scale}
        buffer = io.BytesIO()
        arrays = self.gp.state()
        np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data, options):
        """The stored state, or None if it was made with other options or another version."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            arrays = {k: npz[k] for k in ("X", "y", "L", "jitter")}
        if meta.get("version") != _STATE_VERSION or meta.get("options") != options:
            return None
        kernel = EditDistanceKernel(meta["references"], None, subsets=meta["subsets"],
                                    length_scale=meta["length_scale"],
                                    skip_weight=options["skip_weight"])
        gp = GaussianProcess(kernel.gram, noise=options["noise"])
        gp.load_state(arrays)
        return cls(kernel, gp, list(meta["folded"]))


def _load_state(trials, key, prior, options):
    data = trials.attachments.get(key) if hasattr(trials.attachments, "get") else None
    state = _State.from_bytes(data, options) if data else None
    return state if state is not None else _State.new(prior, options)


# -- suggest ------------------------------------------------------------------------------------


def _doc_arch(doc, label):
    value = doc["misc"]["vals"].get(label)
    if not value:
        return None
    try:
        return Architecture.from_json(value[0])
    except ArchitectureError:
        return None


def _doc_hash(doc, label):
    known = doc["misc"].get("nas_hash")
    if known:
        return known
    arch = _doc_arch(doc, label)
    return None if arch is None else arch.hash


def suggest(new_ids, domain, trials, seed, beta=2.576, t_start=1.0, t_min=1e-4, decay=0.9,
            n_children=8, max_ops=4, n_references=16, length_scale=None, noise=1e-3,
            skip_weight=1.0, label=None):
    """Propose ``len(new_ids)`` distinct architectures (and TPE values for other parameters).

    See the module docstring for the method and the options.
    """
    options = _options(beta, t_start, t_min, decay, n_children, n_references, length_scale,
                       noise, skip_weight)
    spec = find_arch_param(domain.compiled, label)
    if not spec.always_active:
        raise ValueError(
            f"morphism_bo needs the architecture parameter {spec.label!r} to be always active "
            f"(not inside an hp.choice)"
        )
    prior = spec.prior
    rng = np.random.default_rng(seed)
    k = len(new_ids)
    if k == 0:
        return []

    by_tid = {doc["tid"]: doc for doc in trials.all_trials}
    seen = {h for h in (_doc_hash(doc, spec.label) for doc in trials.all_trials) if h}

    key = STATE_PREFIX + spec.label
    state = _load_state(trials, key, prior, options)
    folded = set(state.folded)
    history = trials.history
    for tid, ok, loss in zip(history.tids.tolist(), history.ok.tolist(), history.losses.tolist()):
        if not ok or tid in folded or tid not in by_tid:
            continue
        arch = _doc_arch(by_tid[tid], spec.label)
        if arch is None:
            continue
        state.gp.add(state.kernel.embed([arch])[0], loss)
        state.folded.append(tid)
        folded.add(tid)
    trials.attachments[key] = state.to_bytes(options)

    picks = []  # (architecture, root tid or None, ops)
    chosen = set()

    def take(arch, root, ops):
        if arch.hash in seen or arch.hash in chosen or len(picks) >= k:
            return False
        picks.append((arch, root, ops))
        chosen.add(arch.hash)
        return True

    for arch in prior.initial:
        take(arch, None, [])

    roots = [(_doc_arch(by_tid[tid], spec.label), tid) for tid in state.folded]
    if len(picks) < k and roots:
        found = anneal_search(
            roots, state.gp, state.kernel.embed, seen | chosen, rng, k=k - len(picks), beta=beta,
            t_start=t_start, t_min=t_min, decay=decay, n_children=int(n_children),
            max_params=prior.max_params, widen_noise=prior.widen_noise, max_ops=int(max_ops),
        )
        for cand in found:
            take(cand.arch, cand.root_tid, cand.ops)
    # The annealing may find too few unseen networks (tiny spaces, many pending trials):
    # fall back to random chains from roots, then to the prior.
    attempts = 0
    while len(picks) < k and attempts < 50 * k:
        attempts += 1
        if roots:
            root, tid = roots[int(rng.integers(len(roots)))]
            ops, arch = random_chain(root, rng, min(1 + attempts // 10, int(max_ops)), max_params=prior.max_params,
                                     noise=prior.widen_noise)
            if ops:
                take(arch, tid, ops)
        else:
            take(Architecture.from_json(prior.sample(rng)), None, [])
    if not picks:
        return []

    ids = list(new_ids[: len(picks)])
    others = [p for p in domain.compiled.params if p is not spec]
    algo = _other_params_suggest() if others else rand.suggest
    docs = algo(ids, domain, trials, seed)
    for doc, (arch, root, ops) in zip(docs, picks):
        misc = doc["misc"]
        misc["vals"][spec.label] = [arch.to_json()]
        misc["idxs"][spec.label] = [doc["tid"]]
        misc["nas_ops"] = ops
        misc["nas_hash"] = arch.hash
        if root is not None:
            misc["from_tid"] = int(root)
    return docs[: len(picks)]
