"""Turn an assignment of values to labels into the value of a space.

>>> from hpo import hp, space_eval
>>> space = {"opt": hp.choice("opt", ["sgd", {"adam": hp.loguniform("lr", -5, 0)}])}
>>> space_eval(space, {"opt": 1, "lr": 0.01})
{'opt': {'adam': 0.01}}
"""

from __future__ import annotations

import numpy as np

from .compile import compile_space
from .errors import InvalidSpaceAssignment
from .nodes import INTEGER_KINDS, OBJECT, Apply, Choice, Param

_MISSING = object()


def _lookup(vals, label):
    value = vals.get(label, _MISSING)
    if isinstance(value, (list, tuple, np.ndarray)):
        value = value[0] if len(value) else _MISSING
    if value is _MISSING:
        raise InvalidSpaceAssignment(
            f"space_eval: no value for label {label!r}, which is active in this assignment; "
            f"got labels {sorted(map(str, vals))}"
        )
    return value


def _evaluate(node, vals):
    if isinstance(node, Param):
        value = _lookup(vals, node.label)
        if node.kind == OBJECT:
            decode = getattr(node.arg("prior"), "decode", None)
            return value if decode is None else decode(value)
        return int(value) if node.kind in INTEGER_KINDS else float(value)
    if isinstance(node, Choice):
        index = _lookup(vals, node.label)
        if not float(index).is_integer() or not 0 <= int(index) < len(node.options):
            raise InvalidSpaceAssignment(
                f"space_eval: choice {node.label!r} has {len(node.options)} options, "
                f"got index {index!r}"
            )
        return _evaluate(node.options[int(index)], vals)
    if isinstance(node, Apply):
        args = [_evaluate(a, vals) for a in node.args]
        kwargs = {k: _evaluate(v, vals) for k, v in node.kwargs}
        return node.fn(*args, **kwargs)
    if isinstance(node, dict):
        return {k: _evaluate(v, vals) for k, v in node.items()}
    if isinstance(node, list):
        return [_evaluate(v, vals) for v in node]
    if isinstance(node, tuple):
        return tuple(_evaluate(v, vals) for v in node)
    return node


def space_eval(space, hp_assignment):
    """The value of ``space`` under ``hp_assignment`` (``{label: value}``, choices as indices).

    Values may also be given in ``misc.vals`` form, ``{label: [value]}``, so
    ``space_eval(space, trial["misc"]["vals"])`` works. A label that is needed but missing
    raises :class:`InvalidSpaceAssignment` naming it.
    """
    if not isinstance(hp_assignment, dict):
        raise InvalidSpaceAssignment(
            f"space_eval: hp_assignment must be a dict of label -> value, "
            f"got {type(hp_assignment).__name__}"
        )
    space = getattr(space, "space", space)  # a CompiledSpace evaluates its tree
    return _evaluate(space, hp_assignment)


def as_generator(rng):
    """Accept a ``numpy.random.Generator``, a legacy ``RandomState``, an int seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        return np.random.default_rng(rng.randint(2**31 - 1))
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy.random.Generator, RandomState, int or None, got {type(rng).__name__}"
    )


def sample(space, rng=None, n=None):
    """Draw from the prior of ``space`` and evaluate: one value, or a list of ``n`` values.

    Sampling is vectorized over the compiled table, so ``n=10_000`` is one numpy pass per
    parameter.

    >>> from hpo import hp
    >>> from hpo.spaces import sample
    >>> xs = sample({"x": hp.uniform("x", 0, 1)}, rng=0, n=3)
    >>> len(xs), sorted(xs[0])
    (3, ['x'])
    """
    compiled = compile_space(space)
    rng = as_generator(rng)
    table = compiled.sample_table(rng, 1 if n is None else n)
    values = [_evaluate(compiled.space, compiled.row_to_vals(row)) for row in table]
    return values[0] if n is None else values
