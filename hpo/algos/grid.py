"""Grid search over the Cartesian product of a space's values.

Choices contribute every option; other parameters are discretized to ``grid_points`` values
evenly spaced in their own scale: linearly for ``uniform``, in log space for log
distributions, on the quantization grid for ``q``-distributions (duplicates after rounding
are dropped), over ``mu ± 2 sigma`` for the unbounded normal kinds, and every integer of a
``randint`` when there are at most ``grid_points`` of them. Parameters under a choice are
enumerated only inside their branch, so a conditional space has no redundant points.

The grid is never materialized: point ``i`` is decoded from a mixed-radix index, so a huge
grid costs nothing until it is walked. Which points were issued is read from the trials
themselves (``misc.grid_index``), so a resumed or interrupted search never repeats a point
and fills any hole left by a trial that never finished. Points already in the trials for
another reason (``points_to_evaluate``) are skipped too. When the grid is exhausted,
``suggest`` returns ``[]`` and ``fmin`` stops before ``max_evals``.

>>> from functools import partial
>>> from hpo import fmin, hp, grid, Trials
>>> trials = Trials()
>>> _ = fmin(lambda p: p["x"] + p["c"], {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", [0, 1])},
...          algo=partial(grid.suggest, grid_points=3), max_evals=100, trials=trials,
...          show_progressbar=False)
>>> len(trials)   # 3 values of x times 2 options of c
6
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..spaces import compile_space
from ..spaces.nodes import BOUNDED_KINDS, CHOICE, RANDINT, Choice, Param, children
from .common import docs_from_rows

SHUFFLE_SEED_KEY = "hpo.grid.shuffle_seed"
# Beyond this many points a stored permutation would cost too much memory; an affine
# bijection of the index range shuffles instead.
_MAX_PERMUTATION = 2_000_000
_NORMAL_SPAN = 2.0


def param_grid(spec, grid_points):
    """The values a parameter takes on the grid (``spec`` is a compiled ParamSpec)."""
    if spec.is_object:
        raise ValueError(
            f"grid search cannot enumerate {spec.label!r}: its values are drawn by a custom prior"
        )
    if spec.kind == CHOICE:
        return [float(i) for i in range(spec.n_options)]
    if spec.kind == RANDINT:
        if spec.high - spec.low <= grid_points:
            return [float(v) for v in range(spec.low, spec.high)]
        return sorted({float(round(v)) for v in np.linspace(spec.low, spec.high - 1, grid_points)})
    if spec.kind in BOUNDED_KINDS:
        low, high = spec.low, spec.high
    else:
        low, high = spec.mu - _NORMAL_SPAN * spec.sigma, spec.mu + _NORMAL_SPAN * spec.sigma
    points = np.linspace(low, high, grid_points) if grid_points > 1 else np.array([(low + high) / 2])
    return sorted({float(v) for v in spec.to_value(points)})


class _Leaf:
    def __init__(self, column, values):
        self.column, self.values, self.count = column, values, len(values)

    def decode(self, i, row):
        row[self.column] = self.values[i]


class _Branch:
    """A choice: its options' sub-grids one after another."""

    def __init__(self, column, options):
        self.column, self.options = column, options
        self.count = sum(o.count for o in options)

    def decode(self, i, row):
        for index, option in enumerate(self.options):
            if i < option.count:
                row[self.column] = index
                option.decode(i, row)
                return
            i -= option.count


class _Product:
    def __init__(self, parts):
        self.parts = parts
        self.count = math.prod(p.count for p in parts)

    def decode(self, i, row):
        for part in self.parts:
            i, sub = divmod(i, part.count)
            part.decode(sub, row)


def _build(node, compiled, grid_points, seen):
    if isinstance(node, (Param, Choice)):
        if id(node) in seen:  # the same node twice in one product: enumerate it once
            return _Product([])
        seen = seen | {id(node)}
        spec = compiled.param(node.label)
        if isinstance(node, Param):
            return _Leaf(spec.column, param_grid(spec, grid_points))
        return _Branch(spec.column, [_build(o, compiled, grid_points, seen) for o in node.options])
    parts = []
    for child in children(node):
        part = _build(child, compiled, grid_points, seen)
        seen = seen | _node_ids(child)
        parts.append(part)
    return _Product(parts)


def _node_ids(node):
    ids = {id(node)} if isinstance(node, (Param, Choice)) else set()
    for child in children(node):
        ids |= _node_ids(child)
    return ids


class Grid:
    """The grid of a space: ``len(grid)`` points, ``grid.row(i)`` the i-th as a table row.

    >>> from hpo import hp
    >>> g = Grid({"a": hp.choice("a", [0, {"b": hp.uniform("b", 0, 1)}])}, grid_points=3)
    >>> len(g)
    4
    """

    def __init__(self, space, grid_points=5):
        if not isinstance(grid_points, int) or grid_points < 1:
            raise ValueError(f"grid_points must be an int >= 1, got {grid_points!r}")
        self.compiled = compile_space(space)
        self.root = _build(self.compiled.space, self.compiled, grid_points, frozenset())

    def __len__(self):
        return self.root.count

    def row(self, i):
        row = np.zeros(len(self.compiled))
        self.root.decode(i, row)
        return self.compiled.activate(row[None, :])[0]


@functools.lru_cache(maxsize=8)
def _permutation(n, seed):
    return np.random.default_rng(seed).permutation(n)


def _shuffled_index(k, n, seed):
    """The grid index visited at position ``k`` of a seeded shuffle of ``range(n)``."""
    if n <= _MAX_PERMUTATION:
        return int(_permutation(n, seed)[k])
    rng = np.random.default_rng(seed)
    while True:
        a = int(rng.integers(1, n))
        if math.gcd(a, n) == 1:
            break
    return (a * k + int(rng.integers(0, n))) % n


def _point_key(vals):
    return tuple(sorted((label, round(float(v[0]), 12)) for label, v in vals.items() if v))


def suggest(new_ids, domain, trials, seed, grid_points=5, shuffle=None):
    """The next ``len(new_ids)`` unvisited grid points, or ``[]`` when the grid is exhausted.

    ``shuffle``: None visits the grid in order; an int visits it in a random order drawn
    from that seed; True draws the seed once from the first call and keeps it in
    ``trials.attachments``, so a resumed search keeps the same order.
    """
    grid = _grid_for(domain, grid_points)
    n = len(grid)
    if shuffle is True:
        shuffle = trials.attachments.setdefault(SHUFFLE_SEED_KEY, int(seed))
    issued, seen_points = set(), set()
    for trial in trials.trials:
        misc = trial["misc"]
        if "grid_index" in misc:
            issued.add(misc["grid_index"])
        else:
            seen_points.add(_point_key(misc["vals"]))
    rows, extra = [], []
    k = 0
    while len(rows) < len(new_ids) and k < n:
        if k not in issued:
            index = k if shuffle is None or shuffle is False else _shuffled_index(k, n, shuffle)
            row = grid.row(index)
            vals = domain.compiled.row_to_vals(row)
            if _point_key(vals) not in seen_points:
                rows.append(row)
                extra.append({"grid_index": k})
        k += 1
    return docs_from_rows(new_ids, domain, trials, rows, extra_misc=extra)


def _grid_for(domain, grid_points):
    # The grid depends only on the space and grid_points; cache it on the domain object.
    cache = domain.__dict__.setdefault("_grid_cache", {})
    if grid_points not in cache:
        cache[grid_points] = Grid(domain.compiled, grid_points)
    return cache[grid_points]
