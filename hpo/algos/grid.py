"""Grid search over the Cartesian product of a space's values.

Choices contribute every option; other parameters are discretized to ``grid_points`` values
evenly spaced in their own scale: linearly for ``uniform``, in log space for log
distributions, on the quantization grid for ``q``-distributions (duplicates after rounding
are dropped), over ``mu ± 2 sigma`` for the unbounded normal kinds, and every integer of a
``randint`` when there are at most ``grid_points`` of them. Parameters under a choice are
enumerated only inside their branch, so a conditional space has no redundant points.

The grid is never materialized: point ``i`` is decoded from a mixed-radix index, so a huge
grid costs nothing until it is walked. Which points were visited is read from the trials
themselves, as *points* (their ``misc.vals``), not as positions in a visiting order: a resumed
search -- with the same order, another ``shuffle`` or after ``points_to_evaluate`` -- never
repeats a point. The finished trials are read incrementally from :attr:`Trials.history` and
the unfinished ones from :attr:`Trials.unfinished_trials`, so a call costs O(new trials +
unfinished trials + points skipped), not O(all trials). A point whose trial was cancelled
before it finished is proposed again once the walk reaches the end of the grid. When every
point has been proposed, ``suggest`` returns ``[]`` and ``fmin`` stops before ``max_evals``.

>>> from functools import partial
>>> from hpo import fmin, hp, grid, Trials
>>> trials = Trials()
>>> _ = fmin(lambda p: p["x"] + p["c"], {"x": hp.uniform("x", 0, 1), "c": hp.choice("c", [0, 1])},
...          algo=partial(grid.suggest, grid_points=3), max_evals=100, trials=trials,
...          show_progressbar=False)
>>> len(trials)   # 3 values of x times 2 options of c
6
>>> sorted((t["misc"]["vals"]["c"][0], t["misc"]["vals"]["x"][0]) for t in trials)[:3]
[(0, 0.0), (0, 0.5), (0, 1.0)]
"""

from __future__ import annotations

import functools
import math
import weakref

import numpy as np

from ..spaces import compile_space
from ..spaces.nodes import BOUNDED_KINDS, CHOICE, RANDINT, Choice, Param, children
from .common import docs_from_rows

SHUFFLE_SEED_KEY = "hpo.grid.shuffle_seed"
# Beyond this many points a stored permutation would cost too much memory; an affine
# bijection of the index range shuffles instead.
_MAX_PERMUTATION = 2_000_000
_NORMAL_SPAN = 2.0
# Values are compared to 12 significant digits, so a point given by the user (0.1) matches
# the grid's own value computed in another way (exp(log(0.1))).
_KEY_DIGITS = 12


def param_grid(spec, grid_points):
    """The values a parameter takes on the grid (``spec`` is a compiled ParamSpec).

    >>> from hpo import hp
    >>> from hpo.spaces import compile_space
    >>> param_grid(compile_space(hp.quniform("q", 0, 10, 3)).params[0], 5)
    [0.0, 3.0, 6.0, 9.0]
    """
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
    """The sub-grid of ``node``; nodes whose ids are in ``seen`` are enumerated elsewhere."""
    if isinstance(node, (Param, Choice)):
        if id(node) in seen:
            return _Product([])
        seen = seen | {id(node)}
        spec = compiled.param(node.label)
        if isinstance(node, Param):
            return _Leaf(spec.column, param_grid(spec, grid_points))
        # Each option is its own sub-grid: a node in several options is enumerated in each.
        return _Branch(spec.column, [_build(o, compiled, grid_points, seen) for o in node.options])
    kids = children(node)
    # A node in several parts of a product (the same object under two different choices,
    # say) is enumerated once, at this level, as a factor of its own: enumerated inside the
    # first part only, it would keep one value wherever only a later part activates it.
    # Points where it turns out inactive repeat; ``suggest`` skips repeated points.
    hoisted = _shared_nodes(kids, seen)
    inner_seen = seen | set(hoisted)
    parts = [_build(h, compiled, grid_points, inner_seen - {id(h)}) for h in hoisted.values()]
    parts += [_build(kid, compiled, grid_points, inner_seen) for kid in kids]
    return _Product(parts)


def _reach(node, stop, out, root=False):
    """Add to ``out`` the Param and Choice nodes reachable from ``node`` without entering ``stop``."""
    if not root and isinstance(node, (Param, Choice)):
        if id(node) in stop:
            return out
        out[id(node)] = node
    for child in children(node):
        _reach(child, stop, out)
    return out


def _shared_nodes(kids, seen):
    """``{id: node}`` of the nodes of a product to enumerate as factors of their own.

    A node reachable from two *units* -- the product's parts and the nodes already hoisted,
    each walked without entering a hoisted node -- is hoisted; the outermost such nodes go
    first, so a shared sub-choice keeps its structure, and whatever inside it is also
    reachable from elsewhere is hoisted in a later round.
    """
    hoisted = {}
    while True:
        stop = set(seen) | set(hoisted)
        units = [_reach(kid, stop, {}) for kid in kids]
        units += [_reach(h, stop, {}, root=True) for h in hoisted.values()]
        count, nodes = {}, {}
        for unit in units:
            for node_id, node in unit.items():
                count[node_id] = count.get(node_id, 0) + 1
                nodes[node_id] = node
        shared = {node_id for node_id, n in count.items() if n > 1}
        if not shared:
            return hoisted
        inside = set()
        for node_id in shared:
            inside |= set(_reach(nodes[node_id], stop, {}, root=True)) & shared
        for node_id, node in nodes.items():
            if node_id in shared and node_id not in inside:
                hoisted[node_id] = node


class Grid:
    """The grid of a space: ``len(grid)`` points, ``grid.row(i)`` the i-th as a table row.

    A parameter shared by several choices is enumerated independently of them, so where it
    is inactive some indices give the same point: ``len(grid)`` then counts those repeats.

    >>> from hpo import hp
    >>> g = Grid({"a": hp.choice("a", [0, {"b": hp.uniform("b", 0, 1)}])}, grid_points=3)
    >>> len(g)
    4
    >>> g.row(2).tolist()   # option 1 of "a", the middle value of "b"
    [1.0, 0.5]
    """

    def __init__(self, space, grid_points=5):
        if isinstance(grid_points, bool) or not isinstance(grid_points, int) or grid_points < 1:
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


@functools.lru_cache(maxsize=8)
def _affine(n, seed):
    """``(a, b)`` with ``gcd(a, n) = 1``: ``k -> (a k + b) mod n`` is a bijection of ``range(n)``."""
    rng = np.random.default_rng(seed)
    while True:
        a = int(rng.integers(1, n))
        if math.gcd(a, n) == 1:
            return a, int(rng.integers(0, n))


def _shuffled_index(k, n, seed):
    """The grid index visited at position ``k`` of a seeded shuffle of ``range(n)``."""
    if n <= _MAX_PERMUTATION:
        return int(_permutation(n, seed)[k])
    a, b = _affine(n, seed)
    return (a * k + b) % n


def _row_key(row):
    """A hashable identity of a table row: its values to 12 digits, None where inactive."""
    return tuple(None if v != v else float(f"{v:.{_KEY_DIGITS}g}") for v in row.tolist())


class _Visited:
    """The points of one Trials object's trials, read incrementally from its history.

    This is a cache of what the trials hold, not state of its own: dropped, it is rebuilt
    from the trials (once, in O(all trials)); a new history object (``delete_all``) resets it.
    ``positions`` remembers, per visiting order, how far the walk has come, so that a call
    does not re-walk the points it already proposed.
    """

    def __init__(self, history):
        self.history = weakref.ref(history)
        self.n_read = 0
        self.finished = set()
        self.positions = {}

    def update(self, compiled, history):
        """Read the trials finished since the last call (O(new trials))."""
        n = len(history)
        if n == self.n_read:
            return
        known = set(history.labels)
        new = np.full((n - self.n_read, len(compiled)), np.nan)
        for column, label in enumerate(compiled.labels):
            if label in known:
                new[:, column] = history.column(label)[self.n_read:n]
        self.finished.update(_row_key(row) for row in new)
        self.n_read = n


class _VisitedCaches(weakref.WeakKeyDictionary):
    """``{trials: _Visited}``, held weakly; pickles as empty, so a domain that carries it can
    still be sent to workers (they rebuild the cache if they ever need it)."""

    def __reduce__(self):
        return (type(self), ())


def _visited_for(domain, trials):
    # Cached on the domain (like the grid itself), per Trials object, weakly: the cache
    # lives as long as both do.
    caches = domain.__dict__.setdefault("_grid_visited", _VisitedCaches())
    history = trials.history
    visited = caches.get(trials)
    if visited is None or visited.history() is not history or visited.n_read > len(history):
        visited = caches[trials] = _Visited(history)
    visited.update(domain.compiled, history)
    return visited


def suggest(new_ids, domain, trials, seed, grid_points=5, shuffle=None):
    """The next ``len(new_ids)`` unvisited grid points, or ``[]`` when the grid is exhausted.

    ``shuffle``: None (or False) visits the grid in order; an int visits it in a random order
    drawn from that seed; True draws the seed once from the first call and keeps it in
    ``trials.attachments``, so a resumed search keeps the same order. Whatever the order, a
    point already in the trials is never proposed again.

    >>> from hpo import Domain, Trials, hp
    >>> domain = Domain(lambda p: 0, {"c": hp.choice("c", ["a", "b", "c"])})
    >>> trials = Trials()
    >>> docs = suggest([0, 1, 2, 3], domain, trials, seed=0)
    >>> [d["misc"]["vals"]["c"] for d in docs]   # three points only: the grid is exhausted
    [[0], [1], [2]]
    >>> trials.insert_trial_docs(docs); trials.refresh()
    [0, 1, 2]
    >>> suggest([4], domain, trials, seed=0)
    []
    """
    if shuffle is not None and not (
        isinstance(shuffle, bool) or (isinstance(shuffle, (int, np.integer)) and shuffle >= 0)
    ):
        raise ValueError(f"shuffle must be None, True, False or an int seed >= 0, got {shuffle!r}")
    grid = _grid_for(domain, grid_points)
    n = len(grid)
    if shuffle is True:
        shuffle = trials.attachments.setdefault(SHUFFLE_SEED_KEY, int(seed))
    order = None if shuffle is None or shuffle is False else int(shuffle)
    visited = _visited_for(domain, trials)
    compiled = domain.compiled
    # Points of unfinished trials and of this batch; the finished ones stay in the cache's
    # own set (copying it would cost O(all trials) per call).
    taken = {_row_key(compiled.vals_to_row(doc["misc"]["vals"])) for doc in trials.unfinished_trials}
    rows = []
    position = visited.positions.get((grid_points, order), 0)
    wrapped = position == 0
    while len(rows) < len(new_ids):
        if position == n:
            if wrapped:
                break
            # The end of the grid: walk it once more for points whose trial never finished.
            position, wrapped = 0, True
        index = position if order is None else _shuffled_index(position, n, order)
        position += 1
        row = grid.row(index)
        key = _row_key(row)
        if key not in taken and key not in visited.finished:
            taken.add(key)
            rows.append(row)
    visited.positions[(grid_points, order)] = position
    return docs_from_rows(new_ids, domain, trials, rows)


def _grid_for(domain, grid_points):
    # The grid depends only on the space and grid_points; cache it on the domain object.
    cache = domain.__dict__.setdefault("_grid_cache", {})
    if grid_points not in cache:
        cache[grid_points] = Grid(domain.compiled, grid_points)
    return cache[grid_points]
