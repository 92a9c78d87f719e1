"""Edit distance between architectures and a positive semi-definite kernel built on it.

:func:`edit_distance` is the layer-sequence edit distance between the architectures' main
paths (insert/delete cost 1, substitution cost :func:`layer_distance` in [0, 1]) plus
``skip_weight`` times the distance between their skip connections, matched one to one with
``scipy.optimize.linear_sum_assignment`` (an unmatched skip costs 1).

The edit distance is a good notion of similarity but ``exp(-d**2)`` built on it is not
positive semi-definite in general, so a GP cannot use it directly. :class:`EditDistanceKernel`
maps every architecture to a vector by a Bourgain embedding -- coordinate ``j`` is the
distance to the nearest member of a fixed random subset ``S_j`` of reference architectures,
subsets of sizes 1, 2, 4, ... -- and applies a Gaussian (RBF) kernel to these vectors. The
result is positive semi-definite for *any* set of architectures, and the very same function is
used for fitting and for prediction.

>>> from hpo.nas.arch import small_cnn
>>> from hpo.nas.morphisms import deepen
>>> a = small_cnn((8, 8, 1), 10)
>>> b, _ = deepen(a, after=3)
>>> edit_distance(a, a), edit_distance(a, b) == edit_distance(b, a) > 0
(0.0, True)
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .arch import Architecture

_TYPE_CODES = {name: i for i, name in enumerate(
    ("input", "conv", "bn", "relu", "maxpool", "avgpool", "gap", "dropout", "dense", "add", "concat"))}


def layer_sequence(arch):
    """The main path (without the input) as an ``(n, 5)`` float array:
    type code, width (filters/units), kernel, stride/pool size, dropout rate."""
    arch = Architecture.from_json(arch)
    rows = []
    for lid in arch.main_path()[1:]:
        layer = arch.by_id[lid]
        kind = layer["type"]
        width = layer.get("filters", layer.get("units", 0))
        step = layer.get("stride", layer.get("pool", 0))
        rows.append((_TYPE_CODES[kind], width, layer.get("kernel", 0), step, layer.get("rate", 0.0)))
    return np.asarray(rows, dtype=float).reshape(-1, 5)


def _relative(a, b):
    top = np.maximum(a, b)
    return np.abs(a - b) / np.where(top > 0, top, 1.0)


_CONV, _DENSE, _DROPOUT = _TYPE_CODES["conv"], _TYPE_CODES["dense"], _TYPE_CODES["dropout"]
_POOLS = (_TYPE_CODES["maxpool"], _TYPE_CODES["avgpool"])


def layer_distance_matrix(seq_a, seq_b):
    """Pairwise layer distances in [0, 1]: 1 between different types; for equal types the
    mean relative difference of width, kernel and stride (conv), of width (dense), of pool
    size (pooling), of the rate (dropout); 0 for parameterless layers.

    ``seq_a`` is ``(..., n, 5)`` and ``seq_b`` ``(..., m, 5)``; the result is ``(..., n, m)``
    with leading axes broadcast.
    """
    a, b = seq_a[..., :, None, :], seq_b[..., None, :, :]
    kind = a[..., 0]
    width = _relative(a[..., 1], b[..., 1])
    conv = (width + _relative(a[..., 2], b[..., 2]) + (a[..., 3] != b[..., 3])) / 3.0
    pool = (a[..., 3] != b[..., 3]).astype(float)
    same = ((kind == _CONV) * conv + (kind == _DENSE) * width
            + ((kind == _POOLS[0]) | (kind == _POOLS[1])) * pool
            + (kind == _DROPOUT) * np.abs(a[..., 4] - b[..., 4]))
    return np.where(kind == b[..., 0], same, 1.0)


def _padded(sequences):
    length = max(len(s) for s in sequences)
    out = np.full((len(sequences), length, 5), -1.0)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
    return out, np.array([len(s) for s in sequences])


def sequence_edit_distances(seqs_a, seqs_b):
    """Edit distances between every sequence of ``seqs_a`` and every one of ``seqs_b``
    (insert/delete cost 1, substitution cost the layer distance), as an array.

    All pairs run through one dynamic program on padded arrays: row ``i`` of the table for
    pair (a, b) depends only on row ``i - 1`` and on columns to its left, so padding never
    changes the entry ``D[len(a), len(b)]`` that is read out. Within a row, the insertion
    chain ``D[i, j] = min_k (E[k] + j - k)`` is a running minimum of ``E - arange``.
    """
    if not seqs_a or not seqs_b:
        return np.zeros((len(seqs_a), len(seqs_b)))
    A, len_a = _padded(seqs_a)
    B, len_b = _padded(seqs_b)
    cost = layer_distance_matrix(A[:, None], B[None, :])  # (na, nb, n, m)
    m = B.shape[1]
    steps = np.arange(m + 1, dtype=float)
    row = np.broadcast_to(steps, (len(A), len(B), m + 1)).copy()
    out = np.empty((len(A), len(B)))
    for i in range(1, A.shape[1] + 1):
        best = np.empty_like(row)
        best[..., 0] = i
        np.minimum(row[..., 1:] + 1.0, row[..., :-1] + cost[:, :, i - 1], out=best[..., 1:])
        row = np.minimum.accumulate(best - steps, axis=-1) + steps
        done = np.flatnonzero(len_a == i)
        if done.size:
            out[done] = row[done][:, np.arange(len(B)), len_b]
    return out


def sequence_edit_distance(seq_a, seq_b):
    """Edit distance between two layer sequences (see :func:`sequence_edit_distances`)."""
    if len(seq_a) == 0 or len(seq_b) == 0:
        return float(max(len(seq_a), len(seq_b)))
    return float(sequence_edit_distances([seq_a], [seq_b])[0, 0])


def skip_distance(skips_a, skips_b):
    """Distance between two lists of ``(source position, merge position, type)`` skips.

    Matched pairs cost the relative difference of their positions and spans plus 1 if one is
    an add and the other a concat; every unmatched skip costs 1.
    """
    if not skips_a or not skips_b:
        return float(len(skips_a) + len(skips_b))
    a = np.asarray([(u, v - u) for u, v, _ in skips_a], dtype=float)
    b = np.asarray([(u, v - u) for u, v, _ in skips_b], dtype=float)
    ta = np.asarray([t == "add" for _, _, t in skips_a])
    tb = np.asarray([t == "add" for _, _, t in skips_b])
    start = np.abs(a[:, None, 0] - b[None, :, 0])
    span = np.abs(a[:, None, 1] - b[None, :, 1])
    scale = np.maximum(a[:, None, 0], b[None, :, 0]) + np.maximum(a[:, None, 1], b[None, :, 1])
    cost = (start + span) / np.maximum(scale, 1.0) + (ta[:, None] != tb[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum() + abs(len(skips_a) - len(skips_b)))


class ArchitectureSummary:
    """What the distance needs from an architecture, computed once."""

    __slots__ = ("sequence", "skips")

    def __init__(self, arch):
        arch = Architecture.from_json(arch)
        self.sequence = layer_sequence(arch)
        self.skips = arch.skip_connections()


def edit_distance(a, b, skip_weight=1.0):
    """Layer-sequence edit distance plus ``skip_weight`` times the skip-connection distance.

    Accepts architectures (or their JSON) or :class:`ArchitectureSummary` objects.
    """
    a = a if isinstance(a, ArchitectureSummary) else ArchitectureSummary(a)
    b = b if isinstance(b, ArchitectureSummary) else ArchitectureSummary(b)
    return sequence_edit_distance(a.sequence, b.sequence) + skip_weight * skip_distance(a.skips, b.skips)


def edit_distance_matrix(archs_a, archs_b, skip_weight=1.0):
    """``edit_distance`` between every architecture of ``archs_a`` and every one of ``archs_b``."""
    sa = [a if isinstance(a, ArchitectureSummary) else ArchitectureSummary(a) for a in archs_a]
    sb = [b if isinstance(b, ArchitectureSummary) else ArchitectureSummary(b) for b in archs_b]
    d = sequence_edit_distances([s.sequence for s in sa], [s.sequence for s in sb])
    if skip_weight:
        for i, a in enumerate(sa):
            for j, b in enumerate(sb):
                if a.skips or b.skips:
                    d[i, j] += skip_weight * skip_distance(a.skips, b.skips)
    return d


class EditDistanceKernel:
    """A PSD kernel on architectures: RBF on a Bourgain embedding of the edit distance.

    ``references`` (architectures) fix the embedding; ``rng`` draws the subsets, ``repeats``
    subsets per size. ``length_scale`` defaults to the median embedded distance between
    references. :meth:`embed` maps architectures to vectors, :meth:`gram` gives kernel values
    between vectors.

    >>> import numpy as np
    >>> from hpo.nas.arch import small_cnn
    >>> from hpo.nas.morphisms import random_chain
    >>> rng = np.random.default_rng(0)
    >>> refs = [random_chain(small_cnn((8, 8, 1), 10), rng, k)[1] for k in range(6)]
    >>> kernel = EditDistanceKernel(refs, rng)
    >>> X = kernel.embed(refs)
    >>> bool(np.linalg.eigvalsh(kernel.gram(X, X)).min() > -1e-9)
    True
    """

    def __init__(self, references, rng, repeats=3, length_scale=None, skip_weight=1.0, subsets=None):
        self.references = [Architecture.from_json(r) for r in references]
        if not self.references:
            raise ValueError("EditDistanceKernel needs at least one reference architecture")
        self._summaries = [ArchitectureSummary(r) for r in self.references]
        self.skip_weight = float(skip_weight)
        n = len(self.references)
        if subsets is None:
            subsets = []
            size = 1
            while size <= n:
                for _ in range(repeats):
                    subsets.append(sorted(rng.choice(n, size=size, replace=False).tolist()))
                size *= 2
        self.subsets = [list(map(int, s)) for s in subsets]
        self._scale = 1.0 / np.sqrt(len(self.subsets))
        if length_scale is None:
            X = self.embed(self.references)
            d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
            positive = d[d > 0]
            length_scale = float(np.median(positive)) if positive.size else 1.0
        self.length_scale = float(length_scale)

    def embed(self, archs):
        """``(len(archs), n_subsets)`` embedding; Euclidean distances between rows
        approximate the edit distance (Bourgain)."""
        archs = list(archs)
        if not archs:
            return np.empty((0, len(self.subsets)))
        d = edit_distance_matrix(archs, self._summaries, self.skip_weight)
        return np.stack([d[:, s].min(axis=1) for s in self.subsets], axis=1) * self._scale

    def gram(self, X, Y):
        """``exp(-|x - y|^2 / (2 length_scale^2))`` between rows of X and Y."""
        sq = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
        return np.exp(-sq / (2.0 * self.length_scale ** 2))

    def __call__(self, archs_a, archs_b):
        """Kernel matrix between two lists of architectures."""
        return self.gram(self.embed(archs_a), self.embed(archs_b))
