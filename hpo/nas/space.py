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


def find_arch_param(compiled, label=None):
    """The compiled table's row of the architecture parameter (``label`` or the only one)."""
    found = [spec for spec in compiled.params
             if spec.is_object and isinstance(spec.prior, CnnPrior) and label in (None, spec.label)]
    if len(found) != 1:
        what = f"labelled {label!r}" if label else ""
        raise ValueError(
            f"the space must hold exactly one nas.space.cnn parameter {what}; found "
            f"{[s.label for s in found]}"
        )
    return found[0]
