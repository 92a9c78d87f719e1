"""PNAS cells as values: blocks, a canonical form and hash, expansion, feature vectors.

A cell (Liu et al., *Progressive Neural Architecture Search*, 2018) is a tuple of blocks
``(input1, op1, input2, op2)``: a block applies ``op1`` to ``input1`` and ``op2`` to
``input2`` and adds the results. An input is one of the ``lookback`` previous cells' outputs
(``-1`` the previous cell, ``-2`` the one before, ...) or an earlier block of the same cell
(``0 .. b-1``). Ops are names from the space's op set (:mod:`hpo.nas.cell_build` lists the
built-in ones). How a cell becomes a network is in :mod:`hpo.nas.cell_build`.

Two cells that differ only in the order of the two ``(input, op)`` pairs of a block, or in the
order of blocks that do not depend on each other, compute the same family of networks; they
are one value. :func:`canonical_order` picks one representative (the lexicographically
smallest encoding over all orderings), the :class:`Cell` constructor stores that one, and
:attr:`Cell.hash` is its digest.

>>> from hpo.nas.cell_space import CellPrior
>>> prior = CellPrior((8, 8, 1), 10)
>>> a = Cell([(-1, "conv_3x3", -2, "identity"), (0, "max_pool_3x3", -1, "sep_conv_3x3")], prior)
>>> b = Cell([(-2, "identity", -1, "conv_3x3"), (-1, "sep_conv_3x3", 0, "max_pool_3x3")], prior)
>>> a == b, a.level, a.blocks[0]
(True, 2, (-2, 'identity', -1, 'conv_3x3'))
>>> len(prior.initial_values())
136
"""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np


class CellError(ValueError):
    """A cell value that does not belong to its space (unknown op, bad input, too many blocks)."""


def _pair_codes(pairs, label):
    """The block's ``(input, op)`` pairs with block inputs renamed by ``label``, sorted."""
    return tuple(sorted((i if i < 0 else label[i], op) for i, op in pairs))


def canonical_order(blocks):
    """The canonical form of a cell given as ``[((input, op), (input, op)), ...]`` (ops as ints).

    Returns ``(canonical, order)``: ``canonical`` is a tuple of ``((input, op), (input, op))``
    with the pairs of each block sorted and block inputs renumbered, ``order[k]`` the index in
    ``blocks`` of canonical block ``k``. The canonical form is the smallest encoding over all
    orderings of the blocks that keep every block after the blocks it reads; the search picks
    the smallest next block and branches only on ties (identical blocks), so it is exact.

    >>> canonical_order([((-1, 1), (-1, 1)), ((-1, 3), (-2, 0))])
    ((((-2, 0), (-1, 3)), ((-1, 1), (-1, 1))), (1, 0))
    """
    n = len(blocks)
    deps = [frozenset(i for i, _ in pairs if i >= 0) for pairs in blocks]
    best = [None, None]

    def search(order, label, seq):
        if best[0] is not None and seq > best[0][:len(seq)]:
            return
        if len(order) == n:
            if best[0] is None or seq < best[0]:
                best[0], best[1] = seq, order
            return
        ready = {b: _pair_codes(blocks[b], label) for b in range(n)
                 if b not in label and deps[b] <= label.keys()}
        low = min(ready.values())
        for b, codes in ready.items():
            if codes == low:
                search(order + (b,), {**label, b: len(order)}, seq + (low,))

    search((), {}, ())
    return best[0], best[1]


def topological_orders(blocks):
    """Every ordering of the blocks that keeps each block after the blocks it reads."""
    n = len(blocks)
    deps = [frozenset(i for i, _ in pairs if i >= 0) for pairs in blocks]

    def extend(order, placed):
        if len(order) == n:
            yield order
            return
        for b in range(n):
            if b not in placed and deps[b] <= placed:
                yield from extend(order + (b,), placed | {b})

    yield from extend((), frozenset())


def relabel(blocks, order):
    """``blocks`` reordered by ``order`` (``order[k]`` = old index of new block ``k``), with
    block inputs renumbered and the pairs' order kept."""
    label = {old: new for new, old in enumerate(order)}
    return tuple(tuple((i if i < 0 else label[i], op) for i, op in blocks[old]) for old in order)


class Cell:
    """A PNAS cell of a :class:`~hpo.nas.cell_space.CellPrior`'s space, in canonical form.

    ``blocks`` is a sequence of ``(input1, op1, input2, op2)`` (op names, or op indices into
    ``prior.op_names``). The stored :attr:`blocks` are canonical, with op names. Values are
    immutable; :meth:`expand` gives the cells with one more block.

    >>> from hpo.nas.cell_space import CellPrior
    >>> cell = Cell([(-1, "identity", -1, "avg_pool_3x3")], CellPrior((8, 8, 1), 10, blocks=2))
    >>> len(cell.expand()), cell.expand()[0].level, cell.features().shape
    (300, 2, (44,))
    """

    def __init__(self, blocks, prior, parent=None):
        self.prior = prior
        if isinstance(blocks, (str, bytes, dict)) or not hasattr(blocks, "__iter__"):
            raise CellError(f"a cell's blocks are a list of (input1, op1, input2, op2), got {blocks!r:.200}")
        coded = [self._parse_block(b, block, prior) for b, block in enumerate(blocks)]
        if not 1 <= len(coded) <= prior.max_blocks:
            raise CellError(f"a cell of this space has 1 to {prior.max_blocks} blocks (blocks="
                            f"{prior.max_blocks}), got {len(coded)}")
        self._coded, _ = canonical_order(coded)
        self._parent = parent
        self._hash = None

    @staticmethod
    def _parse_block(b, block, prior):
        if isinstance(block, (str, bytes)) or not hasattr(block, "__len__") or len(block) != 4:
            raise CellError(f"block {b} must be (input1, op1, input2, op2), got {block!r}")
        pairs = []
        for i, op in (block[:2], block[2:]):
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -prior.lookback <= i < b:
                raise CellError(
                    f"block {b} reads input {i!r}; its inputs are -1..-{prior.lookback} (previous "
                    f"cells, lookback={prior.lookback}) or an earlier block 0..{b - 1}")
            if isinstance(op, str):
                if op not in prior.op_index:
                    raise CellError(f"block {b} has op {op!r}, not in this space's ops "
                                    f"{list(prior.op_names)}")
                op = prior.op_index[op]
            elif isinstance(op, bool) or not isinstance(op, (int, np.integer)) or not 0 <= op < len(prior.op_names):
                raise CellError(f"block {b} has op {op!r}; give an op name from {list(prior.op_names)}")
            pairs.append((int(i), int(op)))
        return tuple(pairs)

    # -- the progressive-prior protocol ---------------------------------------------------------

    @property
    def blocks(self):
        """The canonical blocks as ``(input1, op1, input2, op2)`` tuples with op names."""
        names = self.prior.op_names
        return tuple((p[0][0], names[p[0][1]], p[1][0], names[p[1][1]]) for p in self._coded)

    @property
    def level(self):
        """The number of blocks (1 for the simplest cells)."""
        return len(self._coded)

    @property
    def hash(self):
        """A digest of the canonical form and of what the cell is unrolled into."""
        if self._hash is None:
            text = json.dumps([self.prior.identity(), [list(b) for b in self.blocks]],
                              sort_keys=True, separators=(",", ":"))
            self._hash = hashlib.sha256(text.encode()).hexdigest()[:32]
        return self._hash

    def to_json(self):
        """The stored form (what ``prior.sample`` returns); see :meth:`CellPrior.cell_json`."""
        return self.prior.cell_json(self)

    @classmethod
    def from_json(cls, value, prior=None):
        """Inverse of :meth:`to_json`. Without ``prior`` the space is rebuilt from the stored
        settings, which works for the built-in ops; cells with ops of your own need ``prior``.
        Also accepts a Cell or a JSON string."""
        from .cell_space import CellPrior

        if isinstance(value, Cell):
            if prior is None or value.prior is prior:
                return value
            value = value.to_json()
        if prior is None:
            prior = CellPrior.from_cell_json(value)
        return prior.decode(value)

    def parent(self):
        """The cell this one was expanded from (one block fewer), or None when not known."""
        return self._parent

    def expand(self):
        """Every distinct cell with one more block, in a deterministic order; ``[]`` at the
        space's largest number of blocks. The new block reads any pair of the lookback inputs
        and existing blocks through any pair of ops; cells over the space's ``max_params`` are
        left out."""
        if self.level >= self.prior.max_blocks:
            return []
        inputs = list(range(-1, -self.prior.lookback - 1, -1)) + list(range(self.level))
        pairs = [(i, op) for i in inputs for op in range(len(self.prior.op_names))]
        children, seen = [], set()
        for first, second in itertools.combinations_with_replacement(pairs, 2):
            canonical, _ = canonical_order(list(self._coded) + [(first, second)])
            if canonical in seen:
                continue
            seen.add(canonical)
            child = Cell._from_canonical(canonical, self.prior, parent=self)
            if self.prior.fits(child):
                children.append(child)
        return children

    @classmethod
    def _from_canonical(cls, canonical, prior, parent=None):
        cell = cls.__new__(cls)
        cell.prior, cell._coded, cell._parent, cell._hash = prior, canonical, parent, None
        return cell

    def features(self):
        """A fixed-length float vector: per block slot the one-hot of input1, op1, input2, op2,
        zero-padded to the space's number of blocks (:attr:`CellPrior.feature_length`)."""
        return self._encode(self._coded)

    def equivalent_features(self):
        """Feature vectors of the other encodings of this cell (other block orders and pair
        orders), without duplicates; for augmenting a predictor's training set."""
        own = self.features().tobytes()
        seen, out = {own}, []
        for order in topological_orders(self._coded):
            blocks = relabel(self._coded, order)
            for swaps in itertools.product((False, True), repeat=len(blocks)):
                vector = self._encode([p[::-1] if s else p for p, s in zip(blocks, swaps)])
                key = vector.tobytes()
                if key not in seen:
                    seen.add(key)
                    out.append(vector)
        return out

    def _encode(self, blocks):
        prior = self.prior
        n_in, n_ops = prior.lookback + prior.max_blocks - 1, len(prior.op_names)
        slot = 2 * (n_in + n_ops)
        vector = np.zeros(prior.max_blocks * slot)
        for b, pairs in enumerate(blocks):
            base = b * slot
            for (i, op) in pairs:
                vector[base + (-i - 1 if i < 0 else prior.lookback + i)] = 1.0
                vector[base + n_in + op] = 1.0
                base += n_in + n_ops
        return vector

    # -- the network ----------------------------------------------------------------------------

    def to_architecture(self):
        """The unrolled network as an :class:`~hpo.nas.arch.Architecture` (see
        :mod:`hpo.nas.cell_build`)."""
        return self.prior.unroll(self).arch

    def count_params(self):
        """The network's number of weights, without unrolling it."""
        return self.prior.count_params(self)

    # -- identity -------------------------------------------------------------------------------

    def __eq__(self, other):
        return isinstance(other, Cell) and self.hash == other.hash

    def __hash__(self):
        return hash(self.hash)

    def __repr__(self):
        return f"Cell({[list(b) for b in self.blocks]})"
