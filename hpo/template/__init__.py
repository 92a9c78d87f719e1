"""Templates: search a Keras model function written with ``<<choice(...)>>`` placeholders.

>>> from hpo.template import compile_template
>>> t = compile_template('''
... def model(x_train, y_train):
...     units = <<choice([32, 64])>>
...     rate = <<uniform(0, 0.5, label="dropout")>>
...     return {"loss": rate, "status": "ok"}
... ''')
>>> t.labels
{'units': 3, 'dropout': 4}

``minimize(model, data, algo, max_evals)`` runs the search and returns ``(best_run,
best_model)`` as Hyperas does; ``optim.best_models`` and ``optim.best_ensemble`` return the
best trained models and a :class:`~hpo.template.ensemble.VotingModel` of them; ``hpo run
FILE.py`` searches from the command line. Labels are Hyperas' names where it gives one (the
assignment target, keyword or called function: ``Dropout``, then ``Dropout_1`` on a repeat)
and readable ones elsewhere (``if_0`` for ``if <<choice(...)>> == "x":``).
"""

from .compiler import Template, compile_template
from .errors import (
    DuplicateTemplateLabel,
    ModelResultError,
    PlaceholderError,
    TemplateDataError,
    TemplateError,
    TemplateSyntaxError,
)
from .objective import TemplateObjective, clear_data_cache
from .optim import minimize

__all__ = [
    "compile_template", "minimize", "Template", "TemplateObjective", "clear_data_cache",
    "TemplateError", "TemplateSyntaxError", "PlaceholderError", "DuplicateTemplateLabel",
    "TemplateDataError", "ModelResultError",
]
