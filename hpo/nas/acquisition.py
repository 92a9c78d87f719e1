"""Acquisition search: simulated annealing over chains of morphisms from trained networks.

The search keeps a priority queue of architectures, best acquisition value first, seeded with
the trained architectures (the *roots*). Each step pops the best element, draws
``n_children`` random morphisms of it, scores them all with one GP prediction, and pushes a
child if it is better than its parent or, with probability ``exp(-(worse by)/T)``, even if it
is not; the temperature ``T`` decays from ``t_start`` by ``decay`` per step until it falls
below ``t_min`` or the queue is empty. Every architecture met along the way that was never
evaluated is a candidate; the ``k`` best distinct candidates are returned, each with the root
it descends from and the chain of operations from that root (which carries the root's trained
weights to the child).

The acquisition is the lower confidence bound of the loss, ``mean - beta * std`` in
normalized units (UCB on ``-loss``): lower is better.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from .morphisms import random_op


@dataclass(order=True)
class Candidate:
    """An architecture proposed by the search, ordered by acquisition value (lower first)."""

    score: float
    order: int
    arch: object = field(compare=False)
    root_tid: int | None = field(compare=False, default=None)
    ops: list = field(compare=False, default_factory=list)


def lower_confidence_bound(gp, features, beta):
    mean, std = gp.predict(features, normalized=True)
    return mean - beta * std


def anneal_search(roots, gp, embed, seen, rng, k=1, beta=2.576, t_start=1.0, t_min=1e-4,
                  decay=0.9, n_children=8, max_params=None, widen_noise=0.1, max_ops=4):
    """The ``k`` best unseen architectures found by simulated annealing (see module doc).

    ``roots`` is a list of ``(architecture, tid)``; ``embed(archs)`` returns feature rows for
    ``gp``; ``seen`` is a set of architecture hashes never to return (evaluated or pending).
    ``max_ops`` bounds the length of a chain from its root: the further a child is from a
    trained network the less of its function is inherited and the larger it grows, and the
    confidence bound alone would keep rewarding distance.

    >>> import numpy as np
    >>> from hpo.nas.arch import small_cnn
    >>> from hpo.nas.gp import GaussianProcess
    >>> from hpo.nas.kernel import EditDistanceKernel
    >>> rng = np.random.default_rng(0)
    >>> root = small_cnn((8, 8, 1), 10)
    >>> kernel = EditDistanceKernel([root], rng)
    >>> gp = GaussianProcess(kernel.gram)
    >>> gp.add(kernel.embed([root])[0], 0.3)
    >>> found = anneal_search([(root, 0)], gp, kernel.embed, {root.hash}, rng, k=2)
    >>> len({c.arch.hash for c in found}), found[0].root_tid
    (2, 0)
    """
    if not 0 < decay < 1:
        raise ValueError(f"decay must be in (0, 1), got {decay!r}")
    if not t_start > t_min > 0:
        raise ValueError(f"need t_start > t_min > 0, got t_start={t_start!r}, t_min={t_min!r}")
    counter = 0
    queue = []
    if roots:
        scores = lower_confidence_bound(gp, embed([arch for arch, _ in roots]), beta)
        for (arch, tid), score in zip(roots, scores):
            queue.append(Candidate(float(score), counter, arch, tid, []))
            counter += 1
    heapq.heapify(queue)
    visited = set(seen)
    found = {}
    temperature = t_start
    while queue and temperature > t_min:
        parent = heapq.heappop(queue)
        children = []
        for _ in range(n_children):
            step = random_op(parent.arch, rng, max_params=max_params, noise=widen_noise)
            if step is None:
                continue
            op, child = step
            if child.hash in visited:
                continue
            visited.add(child.hash)
            children.append((op, child))
        if children:
            scores = lower_confidence_bound(gp, embed([c for _, c in children]), beta)
            for (op, child), score in zip(children, scores):
                cand = Candidate(float(score), counter, child, parent.root_tid, parent.ops + [op])
                counter += 1
                found[child.hash] = cand
                worse_by = cand.score - parent.score
                if len(cand.ops) >= max_ops:
                    continue
                if worse_by < 0 or rng.random() < math.exp(-worse_by / temperature):
                    heapq.heappush(queue, cand)
        temperature *= decay
    return sorted(found.values())[:k]
