"""Nodes of a search-space tree.

A space is an ordinary Python structure (dict, list, tuple, constants) in which some leaves
are nodes:

* :class:`Param` -- a labelled distribution (``hp.uniform('x', 0, 1)``);
* :class:`Choice` -- a labelled choice among options, each option itself a space;
* :class:`Apply` -- a deferred function call over other nodes (``scope.int(x)``, ``x * 10``),
  evaluated only when a sample is turned into a value by ``space_eval``.

Nodes are immutable after construction and compare by identity, so the same node object may
appear in several places of one space.

Nodes are not Hyperopt's pyll expression graph: reading one of its attributes
(``pos_args``, ``named_args``, ``inputs()``, ``eval()``, ...) raises
:class:`~hpo.spaces.errors.NotOfferedAttributeError` saying what to use instead.

>>> from hpo.spaces import hp
>>> hp.uniform("x", 0, 1).pos_args
Traceback (most recent call last):
...
hpo.spaces.errors.NotOfferedAttributeError: hpo does not offer pyll's Apply.pos_args on space nodes (Hyperopt's expression-graph internals): this node is hp.uniform('x', low=0.0, high=1.0), a Param with .label, .kind and .args; to list a space's parameters (label, distribution, bounds, the choices that activate them) use hpo.compile_space(space).params
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

from .errors import NotOfferedAttributeError

# Distribution kinds. The numeric kinds are sampled in `scale` ("linear" or "log") and then
# optionally quantized; the integer kinds take integer values.
UNIFORM = "uniform"
QUNIFORM = "quniform"
UNIFORMINT = "uniformint"
LOGUNIFORM = "loguniform"
QLOGUNIFORM = "qloguniform"
NORMAL = "normal"
QNORMAL = "qnormal"
LOGNORMAL = "lognormal"
QLOGNORMAL = "qlognormal"
RANDINT = "randint"
CHOICE = "choice"
# A parameter whose values are JSON-like objects drawn by a user-supplied prior (for example
# a neural architecture); see `hpo.spaces.custom`.
OBJECT = "object"

BOUNDED_KINDS = frozenset({UNIFORM, QUNIFORM, UNIFORMINT, LOGUNIFORM, QLOGUNIFORM})
GAUSSIAN_KINDS = frozenset({NORMAL, QNORMAL, LOGNORMAL, QLOGNORMAL})
LOG_KINDS = frozenset({LOGUNIFORM, QLOGUNIFORM, LOGNORMAL, QLOGNORMAL})
INTEGER_KINDS = frozenset({RANDINT, UNIFORMINT})

_LIST_PARAMS = ("to list a space's parameters (label, distribution, bounds, the choices that "
                "activate them) use hpo.compile_space(space).params")
_EVALUATE = ("to evaluate a space at a point use hpo.space_eval(space, point); to draw a point "
             "use hpo.pyll.stochastic.sample(space, rng)")
_REBUILD = "nodes are immutable: build the changed space with hp.* instead"

#: What to use instead of each attribute of Hyperopt's ``pyll.Apply`` (and ``Literal.obj``)
#: that migrating code reads. ``arg`` is left out: ``Param.arg(name)`` is hpo's own method.
PYLL_NODE_ATTRIBUTES = {
    "pos_args": _LIST_PARAMS,
    "named_args": _LIST_PARAMS,
    "inputs": _LIST_PARAMS,
    "name": _LIST_PARAMS,
    "o_len": _LIST_PARAMS,
    "pure": _LIST_PARAMS,
    "define_params": _LIST_PARAMS,
    "obj": _LIST_PARAMS,
    "eval": _EVALUATE,
    "pprint": "print(space) shows it",
    "set_kwarg": _REBUILD,
    "replace_input": _REBUILD,
    "clone_from_inputs": _REBUILD,
}


class Node:
    """Base class of space nodes; gives them arithmetic that builds :class:`Apply` nodes."""

    def _apply(self, fn, *args):
        return Apply(fn, args)

    def __add__(self, other):
        return self._apply(operator.add, self, other)

    def __radd__(self, other):
        return self._apply(operator.add, other, self)

    def __sub__(self, other):
        return self._apply(operator.sub, self, other)

    def __rsub__(self, other):
        return self._apply(operator.sub, other, self)

    def __mul__(self, other):
        return self._apply(operator.mul, self, other)

    def __rmul__(self, other):
        return self._apply(operator.mul, other, self)

    def __truediv__(self, other):
        return self._apply(operator.truediv, self, other)

    def __rtruediv__(self, other):
        return self._apply(operator.truediv, other, self)

    def __floordiv__(self, other):
        return self._apply(operator.floordiv, self, other)

    def __rfloordiv__(self, other):
        return self._apply(operator.floordiv, other, self)

    def __pow__(self, other):
        return self._apply(operator.pow, self, other)

    def __rpow__(self, other):
        return self._apply(operator.pow, other, self)

    def __mod__(self, other):
        return self._apply(operator.mod, self, other)

    def __neg__(self):
        return self._apply(operator.neg, self)

    def __abs__(self):
        return self._apply(abs, self)

    def __getitem__(self, key):
        return self._apply(operator.getitem, self, key)

    # Nodes are compared by identity: `==` must not build an expression, or nodes could not
    # live in sets and dict keys.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # Called only for names the node lacks. Hyperopt's graph attributes get advice instead of
    # a bare AttributeError; the error is still an AttributeError, so hasattr() stays False.
    def __getattr__(self, name):
        if name in PYLL_NODE_ATTRIBUTES:
            raise NotOfferedAttributeError(
                f"hpo does not offer pyll's Apply.{name} on space nodes (Hyperopt's "
                f"expression-graph internals): this node is {self!r}, {self._parts()}; "
                f"{PYLL_NODE_ATTRIBUTES[name]}", name=name, obj=self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}",
                             name=name, obj=self)

    def _parts(self):
        return "a space node"


@dataclass(frozen=True, eq=False, repr=False)
class Param(Node):
    """A labelled scalar distribution. Build it with ``hp.*``, not directly.

    ``args`` holds the distribution's parameters by name, in Hyperopt's parameterization
    (``low``/``high`` of ``loguniform`` are in log space, ``randint`` has ``low``/``high`` with
    ``high`` excluded).
    """

    label: str
    kind: str
    args: tuple  # ((name, value), ...), hashable and ordered

    def arg(self, name, default=None):
        return dict(self.args).get(name, default)

    def _parts(self):
        return "a Param with .label, .kind and .args"

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args)
        return f"hp.{self.kind}({self.label!r}, {inner})"


@dataclass(frozen=True, eq=False, repr=False)
class Choice(Node):
    """A labelled choice among ``options``; the sampled value is the option's index."""

    label: str
    options: tuple
    probabilities: tuple | None = None  # None means uniform

    def __repr__(self):
        return f"hp.choice({self.label!r}, {list(self.options)!r})"

    def _parts(self):
        return "a Choice with .label, .options and .probabilities"


@dataclass(frozen=True, eq=False, repr=False)
class Apply(Node):
    """A deferred call ``fn(*args, **kwargs)`` whose arguments may be spaces."""

    fn: Callable
    args: tuple
    kwargs: tuple = ()  # ((name, value), ...)

    def __repr__(self):
        name = getattr(self.fn, "__name__", repr(self.fn))
        return f"{name}({', '.join(map(repr, self.args))})"

    def _parts(self):
        return "an Apply with .fn, .args and .kwargs"


def children(space: Any):
    """The direct sub-spaces of ``space`` (options of a choice, items of containers, call args)."""
    if isinstance(space, Choice):
        return space.options
    if isinstance(space, Apply):
        return tuple(space.args) + tuple(v for _, v in space.kwargs)
    if isinstance(space, dict):
        return tuple(space.values())
    if isinstance(space, (list, tuple)):
        return tuple(space)
    return ()
