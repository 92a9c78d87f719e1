"""Search algorithms, each a module with a ``suggest(new_ids, domain, trials, seed, **options)``.

Options are bound with ``functools.partial``: ``partial(anneal.suggest, shrink_coef=0.2)``.
"""

from . import anneal, grid, rand, tpe

__all__ = ["anneal", "grid", "rand", "tpe"]
