"""Regularized evolution (aging evolution; Real et al., AAAI 2019) over fixed-length categorical
encodings such as a NAS-Bench-201 cell (6 edges, 5 ops each).

The first ``population`` evaluations are uniform random cells. Every later evaluation draws
``sample`` members of the population uniformly without replacement, copies the best of them
(lowest observed loss), mutates one edge to a different op chosen uniformly, evaluates the
child, adds it and removes the *oldest* member (aging, not the worst). Choices made where the
paper leaves room: population 20 and sample 10 by default — with 200 evaluations a population
of 50 would spend a quarter of the budget on its random start (``population=50`` is one option
away); a mutation always changes the op (as in NAS-Bench-201's reference implementation).

>>> import numpy as np
>>> history = regularized_evolution(lambda cell: -sum(cell), 60, np.random.default_rng(0),
...                                 n_edges=6, n_ops=5)
>>> len(history), min(loss for _, loss in history) <= -20
(60, True)
"""

from __future__ import annotations

from collections import deque


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def regularized_evolution(objective, n_evals, rng, n_edges=6, n_ops=5, population=20, sample=10):
    """Minimize ``objective(cell) -> loss`` over cells (tuples of ``n_edges`` ints in ``[0, n_ops)``).

    ``rng`` is a ``numpy.random.Generator``. Returns the history, a list of ``(cell, loss)`` in
    evaluation order (``n_evals`` entries).
    """
    for name, value in (("n_evals", n_evals), ("n_edges", n_edges), ("population", population),
                        ("sample", sample)):
        _check_positive_int(name, value)
    _check_positive_int("n_ops", n_ops)
    if n_ops < 2:
        raise ValueError(f"n_ops must be at least 2 for a mutation to change an op, got {n_ops!r}")
    if sample > population:
        raise ValueError(f"sample must be at most population ({population}), got {sample!r}")
    history = []
    alive = deque()  # (cell, loss), oldest first

    def evaluate(cell):
        loss = float(objective(cell))
        history.append((cell, loss))
        alive.append((cell, loss))

    while len(history) < n_evals and len(alive) < population:
        evaluate(tuple(int(v) for v in rng.integers(n_ops, size=n_edges)))
    while len(history) < n_evals:
        picked = rng.choice(len(alive), size=sample, replace=False)
        parent = min((alive[i] for i in picked), key=lambda member: member[1])[0]
        child = list(parent)
        edge = int(rng.integers(n_edges))
        # A different op, uniformly: draw among n_ops - 1 and skip the current one.
        op = int(rng.integers(n_ops - 1))
        child[edge] = op + (op >= parent[edge])
        evaluate(tuple(child))
        alive.popleft()
    return history
