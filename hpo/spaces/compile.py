"""Compile a space tree into a flat, ordered table of parameters.

Everything downstream of the space -- sampling, search algorithms, grid enumeration,
validation of user-given points -- works on this table with numpy arrays instead of walking
the tree per sample. A *row* of the table is one configuration: a float array with one column
per parameter, ``NaN`` where the parameter is inactive (its branch of a choice was not taken).

>>> import numpy as np
>>> from hpo import hp
>>> from hpo.spaces import compile_space
>>> cs = compile_space({"x": hp.uniform("x", 0, 1),
...                     "m": hp.choice("m", [0, {"y": hp.normal("y", 0, 1)}])})
>>> cs.labels
('x', 'm', 'y')
>>> cs.param("y").conditions
((('m', 1),),)
>>> cs.sample_table(np.random.default_rng(0), 4).shape
(4, 3)
"""

from __future__ import annotations

import heapq
import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import DuplicateLabel, InvalidSpaceAssignment
from .nodes import (
    BOUNDED_KINDS,
    CHOICE,
    GAUSSIAN_KINDS,
    INTEGER_KINDS,
    LOG_KINDS,
    OBJECT,
    RANDINT,
    UNIFORMINT,
    Choice,
    Param,
    children,
)

# Tolerance when checking that a user-given value lies on a quantization grid.
_GRID_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ParamSpec:
    """One row of the compiled parameter table.

    ``low``/``high`` and ``mu``/``sigma`` are in the *search scale*: the log of the value for
    log distributions (as Hyperopt's parameterization already states them), the value itself
    otherwise. ``q`` is the quantization step in the value's own scale. ``conditions`` lists the
    paths of ``(choice label, option index)`` pairs from the root under which the parameter is
    active; ``()`` in it means the parameter is always active.
    """

    label: str
    kind: str
    column: int
    conditions: tuple
    low: float | None = None
    high: float | None = None
    mu: float | None = None
    sigma: float | None = None
    q: float | None = None
    n_options: int | None = None
    probabilities: np.ndarray | None = field(default=None, compare=False)
    prior: object = field(default=None, compare=False)  # for OBJECT parameters
    # (parent column, option index) per condition path, or None for an unconditional path;
    # activity is derived from the parent's own activity, so only the last step matters.
    parents: tuple = ()

    @property
    def is_log(self):
        return self.kind in LOG_KINDS

    @property
    def is_categorical(self):
        return self.kind in (CHOICE, RANDINT)

    @property
    def is_integer(self):
        return self.kind in INTEGER_KINDS or self.kind == CHOICE

    @property
    def is_object(self):
        return self.kind == OBJECT

    @property
    def always_active(self):
        return () in self.conditions

    def value_bounds(self):
        """Inclusive bounds of the values this parameter can take, in its own scale."""
        if self.kind == CHOICE:
            return 0, self.n_options - 1
        if self.kind == RANDINT:
            return self.low, self.high - 1
        if self.kind in BOUNDED_KINDS:
            low, high = (math.exp(self.low), math.exp(self.high)) if self.is_log else (self.low, self.high)
            if self.q is not None:
                low = math.ceil(low / self.q - _GRID_TOLERANCE) * self.q
                high = math.floor(high / self.q + _GRID_TOLERANCE) * self.q
            return low, high
        return (0.0 if self.is_log else -math.inf), math.inf

    def to_value(self, search_values):
        """Map search-scale floats to values: exp for log kinds, then quantize and clip."""
        values = np.exp(search_values) if self.is_log else np.asarray(search_values, dtype=float)
        return self.quantize(values)

    def quantize(self, values):
        """Round to the q-grid and keep the result inside the parameter's bounds."""
        if self.q is None:
            return values
        values = np.round(values / self.q) * self.q
        if self.kind in BOUNDED_KINDS:
            low, high = self.value_bounds()
            values = np.clip(values, low, high)
        return values

    def to_search(self, values):
        """Inverse of :meth:`to_value` up to quantization: log for log kinds."""
        values = np.asarray(values, dtype=float)
        if self.is_log:
            with np.errstate(divide="ignore"):  # qlognormal can give 0 -> -inf, by design
                return np.log(values)
        return values

    def sample(self, rng, n):
        """Draw ``n`` values from the prior, in the parameter's own scale.

        An OBJECT parameter draws ``n`` integer seeds (as floats); :meth:`object_value` turns
        a seed into the object, so tables stay numeric.
        """
        if self.kind == OBJECT:
            return rng.integers(0, 2**53, size=n).astype(float)
        if self.kind == CHOICE:
            if self.probabilities is None:
                return rng.integers(0, self.n_options, size=n).astype(float)
            return rng.choice(self.n_options, size=n, p=self.probabilities).astype(float)
        if self.kind == RANDINT:
            return rng.integers(self.low, self.high, size=n).astype(float)
        if self.kind == UNIFORMINT:
            # Every grid value equally likely. Rounding a uniform draw, as quniform does,
            # would give the two end values half the probability of the others.
            low, high = self.value_bounds()
            n_values = round((high - low) / self.q) + 1
            return low + self.q * rng.integers(0, n_values, size=n).astype(float)
        if self.kind in BOUNDED_KINDS:
            return self.to_value(rng.uniform(self.low, self.high, size=n))
        return self.to_value(rng.normal(self.mu, self.sigma, size=n))

    def object_value(self, seed):
        """The OBJECT value drawn by the prior from ``seed``."""
        return self.prior.sample(np.random.default_rng(int(seed)))

    def check_value(self, value):
        """Raise :class:`InvalidSpaceAssignment` if ``value`` is not a value of this parameter.

        Returns the value as a float (0.0 for OBJECT parameters, which are checked by their
        prior's ``validate`` when it has one).
        """
        if self.kind == OBJECT:
            validate = getattr(self.prior, "validate", None)
            if validate is not None:
                try:
                    validate(value)
                except (TypeError, ValueError) as e:
                    raise InvalidSpaceAssignment(f"label {self.label!r}: {e}") from None
            return 0.0
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidSpaceAssignment(
                f"label {self.label!r}: value {value!r} is not a number"
            ) from None
        low, high = self.value_bounds()
        if not (low - _GRID_TOLERANCE <= v <= high + _GRID_TOLERANCE) or math.isnan(v):
            raise InvalidSpaceAssignment(
                f"label {self.label!r}: value {value!r} is outside [{low}, {high}]"
            )
        if self.is_integer and not v.is_integer():
            raise InvalidSpaceAssignment(f"label {self.label!r}: value {value!r} is not an integer")
        if self.q is not None and abs(v / self.q - round(v / self.q)) > 1e-6:
            raise InvalidSpaceAssignment(
                f"label {self.label!r}: value {value!r} is not a multiple of q={self.q}"
            )
        return v


def _spec_from_node(node, column, conditions):
    if isinstance(node, Choice):
        probabilities = None if node.probabilities is None else np.asarray(node.probabilities)
        return ParamSpec(node.label, CHOICE, column, conditions, n_options=len(node.options),
                         probabilities=probabilities)
    args = dict(node.args)
    if node.kind == OBJECT:
        return ParamSpec(node.label, OBJECT, column, conditions, prior=args["prior"])
    if node.kind in GAUSSIAN_KINDS:
        return ParamSpec(node.label, node.kind, column, conditions, mu=args["mu"],
                         sigma=args["sigma"], q=args.get("q"))
    return ParamSpec(node.label, node.kind, column, conditions, low=args["low"],
                     high=args["high"], q=args.get("q"))


class CompiledSpace:
    """The flat parameter table of a space; build it with :func:`compile_space`."""

    def __init__(self, space):
        self.space = space
        nodes, paths = {}, {}
        self._collect(space, (), nodes, paths)
        specs = []
        for column, label in enumerate(_parents_first(paths)):
            specs.append(_spec_from_node(nodes[label], column, tuple(paths[label])))
        self.index = {spec.label: spec.column for spec in specs}
        # Resolve each condition path to its last step, (parent column, option index).
        self.params = tuple(
            _with_parents(spec, self.index) for spec in specs
        )
        self.labels = tuple(spec.label for spec in self.params)

    def _collect(self, node, path, nodes, paths):
        if isinstance(node, (Param, Choice)):
            known = nodes.get(node.label)
            if known is not None and known is not node:
                raise DuplicateLabel(
                    f"label {node.label!r} is used by two different parameters: "
                    f"{known!r} and {node!r}"
                )
            if known is None:
                nodes[node.label] = node
                paths[node.label] = []
            if path in paths[node.label]:
                return
            paths[node.label].append(path)
            if isinstance(node, Choice):
                for i, option in enumerate(node.options):
                    self._collect(option, path + ((node.label, i),), nodes, paths)
            return
        for child in children(node):
            self._collect(child, path, nodes, paths)

    def __len__(self):
        return len(self.params)

    def param(self, label):
        return self.params[self.index[label]]

    # -- tables -----------------------------------------------------------------------------

    def active_mask(self, table):
        """Which entries of ``table`` belong to active parameters, judged by the choices only.

        Columns are in topological order, so a parent's activity is final before its
        children are looked at.
        """
        active = np.ones(table.shape, dtype=bool)
        for spec in self.params:
            if spec.always_active:
                continue
            col_active = np.zeros(table.shape[0], dtype=bool)
            for parent, option in spec.parents:
                col_active |= active[:, parent] & (table[:, parent] == option)
            active[:, spec.column] = col_active
        return active

    def activate(self, table):
        """Set to NaN, in place, the entries of parameters that are inactive in each row.

        Rows may hold values for every parameter (as the prior sampler draws them); after this
        call only the branches actually chosen keep theirs.
        """
        table[~self.active_mask(table)] = np.nan
        return table

    def sample_table(self, rng, n):
        """``n`` configurations drawn from the prior, as an ``(n, len(self))`` float array."""
        table = np.empty((n, len(self.params)))
        for spec in self.params:
            table[:, spec.column] = spec.sample(rng, n)
        return self.activate(table)

    def row_to_vals(self, row):
        """One table row as Hyperopt's ``misc.vals``: ``{label: [value]}`` or ``[]`` if inactive."""
        vals = {}
        for spec, value in zip(self.params, row.tolist()):
            if value != value:  # NaN: inactive
                vals[spec.label] = []
            elif spec.kind == OBJECT:
                vals[spec.label] = [spec.object_value(value)]
            elif spec.is_integer:
                vals[spec.label] = [int(value)]
            else:
                vals[spec.label] = [value]
        return vals

    def vals_to_row(self, vals):
        """Inverse of :meth:`row_to_vals`; accepts ``{label: [v]}``, ``{label: []}`` or ``{label: v}``."""
        row = np.full(len(self.params), np.nan)
        for label, value in vals.items():
            column = self.index.get(label)
            if column is None:
                continue
            if isinstance(value, (list, tuple)):
                if not value:
                    continue
                value = value[0]
            # An OBJECT value is not a number; the row only records that it is present.
            row[column] = 0.0 if self.params[column].kind == OBJECT else float(value)
        return row

    def validate_point(self, point, what="point"):
        """Check a user-given ``{label: value}`` (choices as indices) against the space.

        Unknown labels, values out of range or off their grid, active labels without a value
        and values for labels inactive under the given choices all raise
        :class:`InvalidSpaceAssignment` naming the label. Returns the point as a table row.
        """
        unknown = sorted(set(point) - set(self.index), key=str)
        if unknown:
            raise InvalidSpaceAssignment(
                f"{what} has labels that are not in the space: {unknown}; "
                f"the space's labels are {list(self.labels)}"
            )
        row = np.full(len(self.params), np.nan)
        for label, value in point.items():
            if isinstance(value, (list, tuple)):
                if len(value) != 1:
                    continue
                value = value[0]
            row[self.index[label]] = self.param(label).check_value(value)
        given = ~np.isnan(row)
        activated = self.active_mask(row[None, :])[0]
        missing = [self.labels[i] for i in np.flatnonzero(activated & ~given)]
        if missing:
            raise InvalidSpaceAssignment(f"{what} has no value for the active labels {missing}")
        inactive = [self.labels[i] for i in np.flatnonzero(given & ~activated)]
        if inactive:
            raise InvalidSpaceAssignment(
                f"{what} gives values for labels {inactive} that are inactive under its choices"
            )
        return row

    def point_to_vals(self, point, what="point", out_of_bounds="warn", warned=None):
        """Validate a ``{label: value}`` point and return it as ``misc.vals`` (``[]`` if inactive).

        Unlike ``row_to_vals(validate_point(...))`` the given values themselves are kept, so
        OBJECT values survive. A number outside the bounds of a numeric parameter (not a
        choice index) is kept with a warning when ``out_of_bounds="warn"``, as Hyperopt
        evaluates such user-given points; ``"raise"`` refuses it. ``warned``: a set of labels
        already warned about (one warning per label per caller), updated in place.

        >>> import warnings
        >>> from hpo import hp
        >>> cs = compile_space({"x": hp.uniform("x", -5, 5)})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     cs.point_to_vals({"x": -100})
        {'x': [-100.0]}
        >>> print(caught[0].message)
        point: label 'x': value -100 is outside [-5.0, 5.0]; it is evaluated as given
        """
        if out_of_bounds not in ("warn", "raise"):
            raise ValueError(f"out_of_bounds must be 'warn' or 'raise', got {out_of_bounds!r}")
        outside = {}
        if out_of_bounds == "warn":
            outside = self._outside_bounds(point)
        # Validate with the nearest bound standing in, so that activity, types and grids are
        # still checked; the value itself is what is kept.
        checked = {label: ([outside[label][1]] if isinstance(v, (list, tuple)) else outside[label][1])
                   if label in outside else v for label, v in point.items()}
        row = self.validate_point(checked, what)
        warned = set() if warned is None else warned
        vals = {}
        for spec in self.params:
            if np.isnan(row[spec.column]):
                vals[spec.label] = []
                continue
            value = point[spec.label]
            if isinstance(value, (list, tuple)) and len(value) == 1:
                value = value[0]
            if spec.kind == OBJECT:
                vals[spec.label] = [value]
            elif spec.label in outside:
                v = outside[spec.label][0]
                vals[spec.label] = [int(v) if spec.is_integer else v]
                if spec.label not in warned:
                    warned.add(spec.label)
                    low, high = spec.value_bounds()
                    warnings.warn(f"{what}: label {spec.label!r}: value {value!r} is outside "
                                  f"[{low}, {high}]; it is evaluated as given", stacklevel=2)
            else:
                vals[spec.label] = [int(row[spec.column]) if spec.is_integer else float(row[spec.column])]
        return vals

    def _outside_bounds(self, point):
        """``{label: (value, nearest bound)}`` for the numbers of ``point`` outside their bounds.

        Only numeric parameters count; choice indices, values that are not real numbers,
        non-integers for integer kinds and non-positive values of log kinds are left to
        :meth:`validate_point` to refuse.
        """
        outside = {}
        for label, value in point.items():
            spec = self.index.get(label)
            spec = None if spec is None else self.params[spec]
            if spec is None or spec.kind in (CHOICE, OBJECT):
                continue
            if isinstance(value, (list, tuple)):
                if len(value) != 1:
                    continue
                value = value[0]
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
                continue
            v = float(value)
            if math.isnan(v) or (spec.is_integer and not v.is_integer()) or (spec.is_log and v <= 0):
                continue
            low, high = spec.value_bounds()
            if low - _GRID_TOLERANCE <= v <= high + _GRID_TOLERANCE:
                continue
            if spec.q is not None and abs(v / spec.q - round(v / spec.q)) > 1e-6:
                continue
            outside[label] = (v, low if v < low else high)
        return outside


def _parents_first(paths):
    """Labels in discovery order, except that every label comes after all its parent choices.

    Activity is computed column by column from the parents' own activity, so each parent
    must be decided before its children. Depth-first discovery alone does not ensure that
    for a node reachable by several paths: ``lr`` found first under choice ``a`` and then
    again under a choice ``b`` discovered later would be decided before ``b``, which would
    make ``lr`` active whenever ``b`` held the right option, even when ``b`` itself was not
    active.
    """
    discovery = {label: i for i, label in enumerate(paths)}
    parents = {label: {path[-1][0] for path in label_paths if path}
               for label, label_paths in paths.items()}
    waiting = {label: len(ps) for label, ps in parents.items()}
    children_of = {label: [] for label in paths}
    for label, ps in parents.items():
        for parent in ps:
            children_of[parent].append(label)
    # Kahn's algorithm, taking the earliest-discovered ready label each time, so spaces
    # without shared nodes keep their plain depth-first order.
    ready = [discovery[label] for label, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    labels = list(paths)
    order = []
    while ready:
        label = labels[heapq.heappop(ready)]
        order.append(label)
        for child in children_of[label]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, discovery[child])
    return order


def _with_parents(spec, index):
    parents = tuple(
        None if not path else (index[path[-1][0]], path[-1][1]) for path in spec.conditions
    )
    # The unconditional marker is carried by `() in conditions`; keep only real parents.
    object.__setattr__(spec, "parents", tuple(p for p in parents if p is not None))
    return spec


def compile_space(space):
    """Compile ``space`` to its :class:`CompiledSpace` (flat table with activation conditions).

    Raises :class:`DuplicateLabel` when two different parameters share a label.
    """
    if isinstance(space, CompiledSpace):
        return space
    return CompiledSpace(space)
