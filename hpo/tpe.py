"""``hyperopt.tpe``: the Tree-structured Parzen Estimator, as :mod:`hpo.algos.tpe`.

``import hpo.tpe`` and ``from hpo import tpe`` give the same ``suggest`` function, so
``fmin(..., algo=tpe.suggest)`` and ``partial(tpe.suggest, n_startup_jobs=5)`` work after a
change of import. The ``_default_*`` names Hyperopt code reads hold the defaults of this
``suggest``.

>>> import hpo.tpe, hpo.algos.tpe
>>> hpo.tpe.suggest is hpo.algos.tpe.suggest
True
>>> hpo.tpe.suggest.__module__, hpo.tpe._default_n_startup_jobs
('hpo.algos.tpe', 10)
"""

import inspect as _inspect

from .algos.tpe import default_gamma, suggest

_defaults = {name: p.default for name, p in _inspect.signature(suggest).parameters.items()}
_default_prior_weight = _defaults["prior_weight"]
_default_n_startup_jobs = _defaults["n_startup_jobs"]
_default_n_EI_candidates = _defaults["n_EI_candidates"]
_default_gamma = _defaults["gamma"]
_default_linear_forgetting = _defaults["linear_forgetting"]
del _defaults

__all__ = ["suggest", "default_gamma"]
