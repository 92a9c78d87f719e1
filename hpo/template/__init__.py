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
best_model)`` as Hyperas does; ``hpo run FILE.py`` does it from the command line.
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
