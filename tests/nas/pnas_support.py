"""A toy progressive prior with an analytic loss, for the pnas tests (no tests here).

A value is a multiset of symbols 0..3 with 1..4 elements (level = size); the order in which
symbols were added does not matter, so (0, 1) and (1, 0) are one value (canonical form:
sorted). Its features are the positional one-hot code of the sorted symbols, and its
equivalent features those of every other ordering. 4 + 10 + 20 + 35 = 69 values in all.

The module is importable by worker processes (their sys.path is the driver's).
"""

from __future__ import annotations

import itertools

import numpy as np

from hpo import hp
from hpo.spaces import custom

SYMBOLS, MAX_LEVEL = 4, 4
# Symbol 0 is best; interactions make the ranking not purely additive.
COST = np.array([-1.0, -0.6, 0.1, 0.5])


class Multiset:
    def __init__(self, symbols):
        self.symbols = tuple(sorted(int(s) for s in symbols))

    @property
    def level(self):
        return len(self.symbols)

    @property
    def hash(self):
        return "m" + "".join(map(str, self.symbols))

    def to_json(self):
        return list(self.symbols)

    def expand(self):
        if self.level >= MAX_LEVEL:
            return []
        out = {}
        for s in range(SYMBOLS):
            child = Multiset(self.symbols + (s,))
            out.setdefault(child.hash, child)
        return list(out.values())

    @staticmethod
    def _code(order):
        x = np.zeros((MAX_LEVEL, SYMBOLS))
        for i, s in enumerate(order):
            x[i, s] = 1.0
        return x.ravel()

    def features(self):
        return self._code(self.symbols)

    def equivalent_features(self):
        orders = sorted(set(itertools.permutations(self.symbols)) - {self.symbols})
        return [self._code(o) for o in orders]

    def parent(self):
        return Multiset(self.symbols[:-1]) if self.level > 1 else None

    def __eq__(self, other):
        return isinstance(other, Multiset) and other.symbols == self.symbols

    def __hash__(self):
        return hash(self.symbols)

    def __repr__(self):
        return f"Multiset{self.symbols}"


class MultisetPrior:
    def initial_values(self):
        return [Multiset((s,)) for s in range(SYMBOLS)]

    def sample(self, rng):
        return sorted(int(s) for s in rng.integers(SYMBOLS, size=int(rng.integers(1, MAX_LEVEL + 1))))

    def validate(self, value):
        if not (isinstance(value, list) and 1 <= len(value) <= MAX_LEVEL
                and all(isinstance(s, int) and 0 <= s < SYMBOLS for s in value)):
            raise ValueError(f"not a multiset of symbols 0..{SYMBOLS - 1}: {value!r}")

    def decode(self, value):
        self.validate(list(value))
        return Multiset(value)


def all_values():
    values = {}
    frontier = MultisetPrior().initial_values()
    while frontier:
        nxt = []
        for v in frontier:
            values.setdefault(v.hash, v)
            nxt += v.expand()
        frontier = list({v.hash: v for v in nxt}.values())
    return values


def toy_loss(value):
    """Lower with more of the good symbols; pairs of equal symbols help a little more."""
    s = np.array(value.symbols)
    return float(COST[s].sum() - 0.2 * sum(np.bincount(s, minlength=SYMBOLS) >= 2))


def toy_space(with_lr=False):
    space = {"v": custom("v", MultisetPrior())}
    if with_lr:
        space["lr"] = hp.loguniform("lr", -6, -2)
    return space


def toy_objective(params):
    return toy_loss(params["v"])
