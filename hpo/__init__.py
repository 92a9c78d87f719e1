"""hpo: hyperparameter optimization and neural architecture search in the Hyperopt style.

>>> from hpo import fmin, hp, rand
>>> import numpy as np
>>> best = fmin(lambda x: (x - 3) ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
...             max_evals=200, rstate=np.random.default_rng(1), show_progressbar=False)
>>> abs(best["x"] - 3) < 0.2
True
"""

from . import early_stop, exceptions, pruners, pyll
from .algos import anneal, grid, rand, tpe
from .base import (
    JOB_STATE_CANCEL,
    JOB_STATE_DONE,
    JOB_STATE_ERROR,
    JOB_STATE_NEW,
    JOB_STATE_RUNNING,
    JOB_STATES,
    STATUS_FAIL,
    STATUS_NEW,
    STATUS_OK,
    STATUS_PRUNED,
    STATUS_RUNNING,
    STATUS_STRINGS,
    STATUS_SUSPENDED,
    Ctrl,
    Domain,
    Trials,
)
from .exceptions import TrialPruned
from .fmin import fmin, generate_trials_to_calculate
from .reporting import report, trial_budget
from .spaces import hp, space_eval
from .spaces.compile import compile_space
from .spaces.evaluate import sample

__version__ = "0.1.0"


def __getattr__(name):
    # Heavy optional parts load lazily: pymongo only when MongoDB is used, Keras only for NAS
    # and templates.
    if name in ("StoreTrials", "MongoTrials"):
        from .stores import trials as _store_trials

        return getattr(_store_trials, name)
    if name in ("nas", "template", "stores", "plotting", "keras"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name in ("SparkTrials", "atpe"):
        # Hyperopt names hpo does not offer: say what to use instead.
        from .exceptions import not_offered

        raise not_offered(name)
    raise AttributeError(f"module 'hpo' has no attribute {name!r}")


__all__ = [
    "fmin", "generate_trials_to_calculate", "hp", "space_eval", "compile_space", "sample",
    "Trials", "Domain", "Ctrl", "rand", "grid", "anneal", "tpe", "early_stop", "exceptions", "pyll",
    "report", "trial_budget", "TrialPruned", "pruners", "STATUS_PRUNED",
    "STATUS_NEW", "STATUS_RUNNING", "STATUS_SUSPENDED", "STATUS_OK", "STATUS_FAIL",
    "STATUS_STRINGS", "JOB_STATE_NEW", "JOB_STATE_RUNNING", "JOB_STATE_DONE", "JOB_STATE_ERROR",
    "JOB_STATE_CANCEL", "JOB_STATES", "__version__", "StoreTrials", "MongoTrials", "nas",
    "template",
]
