"""Architecture parameters for ordinary ``hp`` spaces.

``cnn(label, input_shape, num_classes)`` is a space parameter whose values are
:class:`~hpo.nas.arch.Architecture` objects (stored in trial documents as their JSON form).
Its prior draws one of the initial architectures and applies a random number of random
morphisms to it, so ``rand.suggest`` on the same space is a random-architecture baseline, and
other parameters (a learning rate, a batch size) can sit beside it:

>>> import numpy as np
>>> from hpo import hp
>>> from hpo.spaces import sample
>>> space = {"arch": cnn("arch", (8, 8, 1), 10), "lr": hp.loguniform("lr", -8, -4)}
>>> value = sample(space, rng=0)
>>> value["arch"].input_shape, value["arch"].num_classes
((8, 8, 1), 10)
"""

from __future__ import annotations

from ..spaces.custom import custom
from .arch import Architecture, ArchitectureError, small_cnn
from .morphisms import random_chain

DEFAULT_MAX_PARAMS = 1_000_000


class CnnPrior:
    """The prior of a :func:`cnn` parameter (see the module docstring).

    ``initial`` is one architecture or a list of them (values or JSON); ``max_random_ops`` is
    the largest number of random morphisms applied to a drawn initial architecture.
    """

    def __init__(self, input_shape, num_classes, max_params=DEFAULT_MAX_PARAMS, initial=None,
                 max_random_ops=6, widen_noise=0.1):
        self.input_shape = _check_shape(input_shape)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        if isinstance(max_params, bool) or not isinstance(max_params, int) or max_params < 1:
            raise ValueError(f"max_params must be a positive int, got {max_params!r}")
        self.max_params = max_params
        if isinstance(max_random_ops, bool) or not isinstance(max_random_ops, int) or max_random_ops < 0:
            raise ValueError(f"max_random_ops must be an int >= 0, got {max_random_ops!r}")
        self.max_random_ops = max_random_ops
        self.widen_noise = float(widen_noise)
        if initial is None:
            initial = [small_cnn(self.input_shape, num_classes)]
        elif isinstance(initial, (Architecture, dict, str)):
            initial = [initial]
        self.initial = []
        for i, value in enumerate(initial):
            try:
                arch = Architecture.from_json(value)
                self._check_arch(arch)
            except ArchitectureError as e:
                raise ValueError(f"initial[{i}] is not a valid architecture for this space: {e}") from None
            self.initial.append(arch)
        if not self.initial:
            raise ValueError("initial must hold at least one architecture")

    def _check_arch(self, arch):
        if arch.input_shape != self.input_shape or arch.num_classes != self.num_classes:
            raise ArchitectureError(
                f"the architecture has input_shape {arch.input_shape} and num_classes "
                f"{arch.num_classes}; the space has {self.input_shape} and {self.num_classes}"
            )
        arch.validate(self.max_params)

    def sample(self, rng):
        """An initial architecture followed by 0..max_random_ops random morphisms (JSON)."""
        arch = self.initial[int(rng.integers(len(self.initial)))]
        length = int(rng.integers(self.max_random_ops + 1))
        _, arch = random_chain(arch, rng, length, max_params=self.max_params, noise=self.widen_noise)
        return arch.to_json()

    def validate(self, value):
        """Raise ValueError unless ``value`` is an architecture of this space."""
        self._check_arch(Architecture.from_json(value))

    def decode(self, value):
        """The :class:`Architecture` the objective receives for a stored value."""
        return Architecture.from_json(value)

    def __repr__(self):
        return (f"CnnPrior(input_shape={self.input_shape}, num_classes={self.num_classes}, "
                f"max_params={self.max_params}, {len(self.initial)} initial)")


def _check_shape(input_shape):
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1 or any(float(v) != int(v) for v in input_shape):
        raise ValueError(f"input_shape must be (height, width, channels) of positive ints, got {input_shape!r}")
    return shape


def cnn(label, input_shape, num_classes, max_params=DEFAULT_MAX_PARAMS, initial=None,
        max_random_ops=6, widen_noise=0.1):
    """A space parameter whose values are CNN architectures for images of ``input_shape``.

    Parameters
    ----------
    label : the parameter's label in the space.
    input_shape : ``(height, width, channels)`` of one input image.
    num_classes : number of output classes (softmax output).
    max_params : architectures with more weights are never proposed.
    initial : starting architecture(s); by default :func:`~hpo.nas.arch.small_cnn`.
    max_random_ops : the prior applies 0..max_random_ops random morphisms to an initial
        architecture.

    >>> p = cnn("arch", (8, 8, 1), 10)
    >>> p.label
    'arch'
    """
    return custom(label, CnnPrior(input_shape, num_classes, max_params=max_params, initial=initial,
                                  max_random_ops=max_random_ops, widen_noise=widen_noise))


def cells(label, input_shape, num_classes, blocks=3, ops=None, lookback=2, cells_per_stage=1,
          stages=2, filters=16, max_params=DEFAULT_MAX_PARAMS, warm_start=True):
    """A space parameter whose values are PNAS cells (:class:`~hpo.nas.cells.Cell`), unrolled
    into networks for images of ``input_shape`` (see :mod:`hpo.nas.cell_build`).

    Parameters
    ----------
    label : the parameter's label in the space.
    input_shape : ``(height, width, channels)`` of one input image; height and width must be
        at least ``2 ** (stages - 1)``.
    num_classes : number of output classes (softmax output).
    blocks : the most blocks a cell has (PNAS's B).
    ops : None for the 8 built-in ops (``identity``, ``sep_conv_3x3``, ``sep_conv_5x5``,
        ``sep_conv_7x7``, ``conv_1x1``, ``conv_3x3``, ``max_pool_3x3``, ``avg_pool_3x3``), a list
        of built-in op names, or a dict ``{name: factory}`` with ``factory(filters)`` returning
        the op's architecture layers, e.g. ``lambda f: [{"type": "relu"}, {"type": "conv",
        "filters": f, "kernel": 3, "stride": 1}]``. An op must keep its input's shape.
    lookback : how many previous cells' outputs a block may read (inputs -1 .. -lookback).
    cells_per_stage, stages, filters : the network: ``stages`` stages of ``cells_per_stage``
        cells, ``filters`` channels in the first stage, doubled by each stride-2 reduction.
    max_params : cells whose network has more weights are never proposed.
    warm_start : when a trial names its parent cell's trial (``misc["from_tid"]``, as
        ``nas.pnas`` does), :class:`~hpo.nas.KerasObjective` starts the child from the
        parent's trained weights with the new block switched off (see docs/nas.md).

    >>> p = cells("cell", (8, 8, 1), 10)
    >>> p.label, len(p.arg("prior").initial_values())
    ('cell', 136)
    """
    from .cell_space import CellPrior

    return custom(label, CellPrior(input_shape, num_classes, blocks=blocks, ops=ops, lookback=lookback,
                                   cells_per_stage=cells_per_stage, stages=stages, filters=filters,
                                   max_params=max_params, warm_start=warm_start))


def find_arch_param(compiled, label=None, cells=False):
    """The compiled table's row of the architecture parameter (``label`` or the only one):
    a :func:`cnn` parameter, or with ``cells=True`` also a :func:`cells` parameter (for
    code that takes either, such as the training objective)."""
    from .cell_space import CellPrior

    kinds = (CnnPrior, CellPrior) if cells else (CnnPrior,)
    found = [spec for spec in compiled.params
             if spec.is_object and isinstance(spec.prior, kinds) and label in (None, spec.label)]
    if len(found) != 1:
        what = f"labelled {label!r}" if label else ""
        names = "nas.space.cnn or nas.space.cells" if cells else "nas.space.cnn"
        raise ValueError(
            f"the space must hold exactly one {names} parameter {what}; found {[s.label for s in found]}"
        )
    return found[0]
