"""Random one-shot search: uniform children of a supernet, the baseline ENAS must beat.

``suggest`` draws cells with exactly the space's ``blocks`` blocks, each input and op uniform
(the supernet runs only full cells); other parameters of the space come from TPE. It keeps
no state: the draws depend only on the seed fmin passes.

>>> from hpo import Domain, Trials
>>> from hpo.nas import space
>>> domain = Domain(lambda p: 0.0, {"cell": space.cells("cell", (8, 8, 1), 10, blocks=3)})
>>> docs = suggest([0, 1], domain, Trials(), seed=0)
>>> [len(d["misc"]["vals"]["cell"][0]["cell"]["blocks"]) for d in docs]
[3, 3]
"""

from __future__ import annotations

import numpy as np

from ._space import documents, find_cell_param, random_cell


def suggest(new_ids, domain, trials, seed, label=None):
    """Uniform random cells of the space's cell parameter (``label``: which one, when the
    space has several)."""
    spec = find_cell_param(domain.compiled, label)
    rng = np.random.default_rng(seed)
    cells = [random_cell(spec.prior, rng) for _ in new_ids]
    return documents(new_ids, domain, trials, seed, spec, cells) if cells else []
