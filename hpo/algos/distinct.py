"""Which configurations a search has already tried, for spaces where repeats can happen.

On a finite space (every active parameter a ``choice``, a ``randint`` or quantized), a model
that keeps preferring the same region proposes configurations that were already evaluated,
and each repeat is an evaluation spent learning nothing (TPE on an architecture written as
``hp.choice``s did this for most of its budget). :class:`TriedConfigurations` holds the
configurations already finished, running or proposed in this batch, as table rows, and
answers whether a new row repeats one. Rows with a continuous (or object) parameter active
are never repeats: two continuous draws do not coincide, and such rows are not even hashed.

>>> import numpy as np
>>> from hpo import hp
>>> from hpo.spaces import compile_space
>>> compiled = compile_space({"a": hp.choice("a", [1, 2, 3]), "b": hp.randint("b", 4)})
>>> tried = TriedConfigurations(compiled, np.array([[0.0, 2.0]]))
>>> tried.repeats(np.array([0.0, 2.0])), tried.repeats(np.array([1.0, 2.0]))
(True, False)
>>> tried.add(np.array([1.0, 2.0])); tried.repeats(np.array([1.0, 2.0]))
True
"""

from __future__ import annotations

import numpy as np

from ..spaces.nodes import CHOICE, OBJECT, RANDINT

#: Prior draws tried before a search over a finite space concludes that every
#: configuration it can reach has been evaluated.
PRIOR_DRAWS = 256


def discrete_columns(compiled):
    """Boolean mask of the columns whose values lie on a grid (choice, randint, quantized)."""
    return np.array([spec.kind in (CHOICE, RANDINT) or (spec.kind != OBJECT and spec.q is not None)
                     for spec in compiled.params], dtype=bool)


class TriedConfigurations:
    """The set of discrete configurations already tried (see the module docstring).

    ``rows`` are table rows (the compiled space's layout, NaN for inactive parameters).
    """

    def __init__(self, compiled, rows):
        self.discrete = discrete_columns(compiled)
        self._keys = set()
        rows = np.asarray(rows, dtype=float).reshape(-1, len(self.discrete))
        finite = self._finite(rows)
        for row in rows[finite]:
            self._keys.add(self._key(row))

    def _finite(self, rows):
        # A row can repeat only if every active parameter is discrete.
        return ~np.any(~np.isnan(rows) & ~self.discrete, axis=1)

    @staticmethod
    def _key(row):
        # NaN (inactive) gets one fixed bit pattern, and -0.0 becomes 0.0, so equal
        # configurations give equal bytes.
        return (np.where(np.isnan(row), np.inf, row) + 0.0).tobytes()

    def repeats(self, row):
        """Whether ``row`` is a discrete configuration that was already tried."""
        row = np.asarray(row, dtype=float)
        return bool(self._finite(row[None, :])[0]) and self._key(row) in self._keys

    def add(self, row):
        """Record ``row`` as tried (a point proposed earlier in the same batch)."""
        row = np.asarray(row, dtype=float)
        if self._finite(row[None, :])[0]:
            self._keys.add(self._key(row))

    def __len__(self):
        return len(self._keys)


def untried_prior_row(compiled, tried, rng, draws=PRIOR_DRAWS):
    """A prior draw that ``tried`` does not hold, or ``None`` if ``draws`` draws all repeat."""
    table = compiled.sample_table(rng, draws)
    for row in table:
        if not tried.repeats(row):
            return row
    return None
