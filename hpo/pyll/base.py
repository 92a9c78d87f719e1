"""``hyperopt.pyll.base`` names that user code imports: ``scope``, ``Apply``, ``as_apply``."""

from ..spaces.nodes import Apply
from ..spaces.scope import scope


def as_apply(obj):
    """Hyperopt wraps plain values into graph nodes; hpo spaces need no wrapping."""
    return obj


__all__ = ["Apply", "scope", "as_apply"]
