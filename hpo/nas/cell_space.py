"""The prior of a PNAS cell parameter (``nas.space.cells``): op set, sampling, validation.

:class:`CellPrior` is a progressive prior (:mod:`hpo.nas.progressive`): ``initial_values()``
lists every distinct 1-block cell, ``sample(rng)`` draws a random cell (so ``rand.suggest`` on
the same space is PNAS's random baseline), ``validate`` and ``decode`` read stored values.

>>> import numpy as np
>>> prior = CellPrior((8, 8, 1), 10, blocks=3)
>>> cell = prior.decode(prior.sample(np.random.default_rng(0)))
>>> 1 <= cell.level <= 3, prior.decode(cell.to_json()) == cell
(True, True)
"""

from __future__ import annotations

import itertools
import json

from .arch import Architecture, ArchitectureError
from .cell_build import BUILTIN_OPS, check_op, stage_shapes, unroll
from .cells import Cell, CellError

DEFAULT_OPS = tuple(BUILTIN_OPS)
_SAMPLE_TRIES = 100


def _positive_int(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


class CellPrior:
    """The prior of a :func:`hpo.nas.space.cells` parameter; see that function for the
    arguments. ``ops`` is None (the 8 built-in ops), a list of built-in op names, or a dict
    ``{name: factory}`` where ``factory(filters)`` returns the op's layers (see
    :mod:`hpo.nas.cell_build`) and a value may also be a built-in op's name.
    """

    def __init__(self, input_shape, num_classes, blocks=3, ops=None, lookback=2, cells_per_stage=1,
                 stages=2, filters=16, max_params=1_000_000, warm_start=True):
        from .space import _check_shape

        self.input_shape = _check_shape(input_shape)
        self.num_classes = _positive_int("num_classes", num_classes, 2)
        self.max_blocks = _positive_int("blocks", blocks)
        self.lookback = _positive_int("lookback", lookback)
        self.cells_per_stage = _positive_int("cells_per_stage", cells_per_stage)
        self.stages = _positive_int("stages", stages)
        self.filters = _positive_int("filters", filters)
        self.max_params = _positive_int("max_params", max_params)
        if not isinstance(warm_start, bool):
            raise ValueError(f"warm_start must be True or False, got {warm_start!r}")
        self.warm_start = warm_start
        smallest = min(self.input_shape[:2])
        if smallest < 2 ** (self.stages - 1):
            raise ValueError(
                f"input_shape {self.input_shape} is too small for stages={self.stages}: "
                f"{self.stages - 1} stride-2 reductions need height and width >= "
                f"{2 ** (self.stages - 1)}; use fewer stages")
        self.op_names, self.op_factories = self._parse_ops(ops)
        self.op_index = {name: k for k, name in enumerate(self.op_names)}
        # Check every op at every stage's shape now, so that a bad op fails here with its name
        # rather than deep inside a trial; the weights counted give a quick size bound.
        shapes = stage_shapes(self.input_shape, self.stages, self.filters)
        self._op_params = [self.cells_per_stage * sum(check_op(n, fac, shape) for shape in shapes)
                           for n, fac in zip(self.op_names, self.op_factories)]
        self._base_params = self._skeleton_params(shapes)
        self._unrolled = {}
        self._initial = None

    @staticmethod
    def _parse_ops(ops):
        if ops is None:
            ops = DEFAULT_OPS
        if isinstance(ops, dict):
            items = list(ops.items())
        elif isinstance(ops, (list, tuple)):
            items = [(name, name) for name in ops]
        else:
            raise ValueError(f"ops must be a list of op names or a dict {{name: factory}}, got {ops!r:.200}")
        if not items:
            raise ValueError("ops must name at least one op")
        names, factories = [], []
        for name, factory in items:
            if not isinstance(name, str) or not name:
                raise ValueError(f"ops: op names must be non-empty strings, got {name!r}")
            if isinstance(factory, str):
                if factory not in BUILTIN_OPS:
                    raise ValueError(f"ops: {factory!r} is not a built-in op; built-in ops are "
                                     f"{list(BUILTIN_OPS)}, or give a factory filters -> layers")
                factory = BUILTIN_OPS[factory]
            elif not callable(factory):
                raise ValueError(f"ops: op {name!r} must be a built-in op name or a factory "
                                 f"filters -> layers, got {factory!r:.200}")
            if name in names:
                raise ValueError(f"ops: op {name!r} is given twice")
            names.append(name)
            factories.append(factory)
        return tuple(names), tuple(factories)

    def _skeleton_params(self, shapes):
        """Weights outside the ops, for a cell with one block and nothing pruned; every more
        block adds ``cells_per_stage * F**2`` per stage to the 1x1 output convs."""
        c = self.input_shape[2]
        f = shapes[0][2]
        total = 9 * c * f + f + 4 * f
        for s, (_, _, f) in enumerate(shapes):
            if s:
                prev = shapes[s - 1][2]
                total += 9 * prev * f + f + 4 * f + (self.lookback - 1) * (prev * f + f)
            total += self.cells_per_stage * (f * f + f)
        return total + shapes[-1][2] * self.num_classes + self.num_classes

    # -- what the unrolled networks look like --------------------------------------------------

    def identity(self):
        """What, besides its blocks, decides a cell's network (part of its hash)."""
        return {"ops": list(self.op_names), "lookback": self.lookback, "stages": self.stages,
                "cells_per_stage": self.cells_per_stage, "filters": self.filters,
                "input_shape": list(self.input_shape), "num_classes": self.num_classes}

    def unroll(self, cell):
        """The :class:`~hpo.nas.cell_build.Unrolled` network of ``cell`` (cached)."""
        found = self._unrolled.get(cell.hash)
        if found is None:
            if len(self._unrolled) > 4096:  # a bound, not a policy: searches revisit few cells
                self._unrolled.clear()
            found = self._unrolled[cell.hash] = unroll(cell)
        return found

    def count_params(self, cell):
        """The number of weights of ``cell``'s network."""
        return self.unroll(cell).arch.count_params()

    def fits(self, cell):
        """True when ``cell``'s network has at most ``max_params`` weights."""
        shapes = stage_shapes(self.input_shape, self.stages, self.filters)
        bound = self._base_params + sum(self._op_params[op] for pairs in cell._coded for _, op in pairs)
        bound += (cell.level - 1) * self.cells_per_stage * sum(f * f for _, _, f in shapes)
        # Pruning only removes weights, so the bound decides most cells without unrolling.
        return bound <= self.max_params or self.count_params(cell) <= self.max_params

    # -- the custom-prior protocol --------------------------------------------------------------

    def initial_values(self):
        """Every distinct 1-block cell that fits ``max_params``, in a deterministic order:
        ``n * (n + 1) / 2`` of them for ``n = lookback * len(ops)`` (136 for 2 and 8)."""
        if self._initial is None:
            pairs = [(i, op) for i in range(-1, -self.lookback - 1, -1) for op in range(len(self.op_names))]
            cells = [Cell([(a[0], a[1], b[0], b[1])], self)
                     for a, b in itertools.combinations_with_replacement(pairs, 2)]
            self._initial = [c for c in cells if self.fits(c)]
        return list(self._initial)

    def sample(self, rng):
        """A random cell as JSON: a number of blocks uniform in 1..blocks, then each block's
        inputs and ops uniform among those allowed (uniform over encodings, which the
        canonical form then merges); cells over ``max_params`` are drawn again."""
        for _ in range(_SAMPLE_TRIES):
            n = int(rng.integers(1, self.max_blocks + 1))
            blocks = []
            for b in range(n):
                i1, i2 = (int(v) for v in rng.integers(-self.lookback, b, size=2))
                o1, o2 = (int(v) for v in rng.integers(len(self.op_names), size=2))
                blocks.append((i1, o1, i2, o2))
            cell = Cell(blocks, self)
            if self.fits(cell):
                return cell.to_json()
        raise ValueError(f"no cell drawn in {_SAMPLE_TRIES} tries has at most max_params="
                         f"{self.max_params} weights; raise max_params or lower filters")

    def cell_json(self, cell):
        """The stored form of ``cell``: its blocks and settings under ``"cell"``, beside the
        unrolled network's ``input_shape``, ``num_classes`` and ``layers`` (so the value is
        also an :class:`~hpo.nas.arch.Architecture` value, which ``export_best`` reads)."""
        arch = self.unroll(cell).arch.to_json()
        settings = {**self.identity(), "max_blocks": self.max_blocks}
        del settings["input_shape"], settings["num_classes"]
        return {"cell": {"blocks": [list(b) for b in cell.blocks], **settings}, **arch}

    @classmethod
    def from_cell_json(cls, value):
        """The prior of a stored cell, rebuilt from its settings (built-in ops only)."""
        value = _load(value)
        settings = value["cell"]
        try:
            return cls(value["input_shape"], value["num_classes"], blocks=settings["max_blocks"],
                       ops=list(settings["ops"]), lookback=settings["lookback"],
                       cells_per_stage=settings["cells_per_stage"], stages=settings["stages"],
                       filters=settings["filters"])
        except KeyError as e:
            raise CellError(f"the stored cell lacks the setting {e}; pass prior=") from None
        except ValueError as e:
            raise CellError(f"cannot rebuild the space of a stored cell ({e}); pass prior=") from None

    def decode(self, value):
        """The :class:`~hpo.nas.cells.Cell` for a stored value; ``value`` may also be just
        ``{"cell": {"blocks": [...]}}`` or a list of blocks. Raises CellError for a value
        that is not a cell of this space."""
        if isinstance(value, Cell):
            value = value.to_json()
        value = _load(value)
        if isinstance(value, (list, tuple)):
            return Cell(value, self)
        cell = Cell(value["cell"]["blocks"], self)
        ops = value["cell"].get("ops")
        if ops is not None and list(ops) != list(self.op_names):
            raise CellError(f"the stored cell uses ops {list(ops)}; this space's ops are {list(self.op_names)}")
        for key in ("lookback", "stages", "cells_per_stage", "filters"):
            if key in value["cell"] and value["cell"][key] != getattr(self, key):
                raise CellError(f"the stored cell has {key}={value['cell'][key]!r}; this space has "
                                f"{key}={getattr(self, key)!r}")
        return cell

    def validate(self, value):
        """Raise ValueError (CellError) unless ``value`` is a cell of this space within
        ``max_params``, whose stored network (when present) is the cell's."""
        cell = self.decode(value)
        value = _load(value if not isinstance(value, Cell) else cell.to_json())
        if isinstance(value, dict) and "layers" in value:
            try:
                stored = Architecture.from_json(value)
            except ArchitectureError as e:
                raise CellError(f"the stored network of {cell!r} is not valid: {e}") from None
            if stored.hash != cell.to_architecture().hash:
                raise CellError(f"the stored network is not the one {cell!r} unrolls into")
        if not self.fits(cell):
            raise CellError(f"{cell!r} has {self.count_params(cell)} weights, more than "
                            f"max_params={self.max_params}")

    @property
    def token_dim(self):
        """Length of one block's part of the features: the LSTM predictor's token."""
        return 2 * (self.lookback + self.max_blocks - 1 + len(self.op_names))

    @property
    def feature_length(self):
        """Length of every cell's :meth:`~hpo.nas.cells.Cell.features` vector."""
        return self.max_blocks * self.token_dim

    def __getstate__(self):
        # The caches are rebuilt on demand; a pickled space (shipped to workers) leaves them.
        return {**self.__dict__, "_unrolled": {}, "_initial": None}

    def __repr__(self):
        return (f"CellPrior(input_shape={self.input_shape}, num_classes={self.num_classes}, "
                f"blocks={self.max_blocks}, ops={list(self.op_names)}, lookback={self.lookback}, "
                f"cells_per_stage={self.cells_per_stage}, stages={self.stages}, filters={self.filters})")


def _load(value):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise CellError(f"a cell value is JSON; {e}") from None
    if isinstance(value, (list, tuple)):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("cell"), dict) or "blocks" not in value["cell"]:
        raise CellError(f"a cell value is a dict with 'cell': {{'blocks': [...]}} (or a list of "
                        f"blocks), got {value!r:.200}")
    return value
