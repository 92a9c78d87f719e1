"""The names Hyperas exports from ``hyperas.distributions``, for templates that import them.

``from hpo.template.distributions import choice, uniform`` replaces Hyperas' import. Inside
``{{...}}`` or ``<<...>>`` these names are read by the template compiler, not called; calling
one anywhere else raises an error that says so.

>>> from hpo.template.distributions import choice
>>> choice([1, 2])
Traceback (most recent call last):
...
hpo.template.errors.TemplateError: choice(...) is a placeholder: it works only inside {{...}} or <<...>> in a model function searched by hpo.template
"""

from __future__ import annotations

from .errors import TemplateError
from .rewrite import DISTRIBUTIONS

__all__ = [*DISTRIBUTIONS, "conditional"]


def _placeholder(name):
    def distribution(*args, **kwargs):
        raise TemplateError(
            f"{name}(...) is a placeholder: it works only inside {{{{...}}}} or <<...>> in a "
            f"model function searched by hpo.template")

    distribution.__name__ = distribution.__qualname__ = name
    distribution.__doc__ = f"Placeholder for ``hp.{name}``; write ``{{{{{name}(...)}}}}``."
    return distribution


for _name in DISTRIBUTIONS:
    globals()[_name] = _placeholder(_name)
del _name


def conditional(value):
    """Hyperas' ``conditional``: returns ``value`` unchanged."""
    return value
