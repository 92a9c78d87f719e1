"""hpo: hyperparameter optimization and neural architecture search in the Hyperopt style.

>>> from hpo import fmin, hp, rand
>>> best = fmin(lambda x: (x - 3) ** 2, hp.uniform("x", -5, 5), algo=rand.suggest,
...             max_evals=20, show_progressbar=False)
"""

from . import early_stop, exceptions, pyll
from .algos import anneal, grid, rand
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
    STATUS_RUNNING,
    STATUS_STRINGS,
    STATUS_SUSPENDED,
    Ctrl,
    Domain,
    Trials,
)
from .fmin import fmin, generate_trials_to_calculate
from .spaces import hp, space_eval
from .spaces.compile import compile_space
from .spaces.evaluate import sample

__version__ = "0.1.0"

__all__ = [
    "fmin", "generate_trials_to_calculate", "hp", "space_eval", "compile_space", "sample",
    "Trials", "Domain", "Ctrl", "rand", "grid", "anneal", "early_stop", "exceptions", "pyll",
    "STATUS_NEW", "STATUS_RUNNING", "STATUS_SUSPENDED", "STATUS_OK", "STATUS_FAIL",
    "STATUS_STRINGS", "JOB_STATE_NEW", "JOB_STATE_RUNNING", "JOB_STATE_DONE", "JOB_STATE_ERROR",
    "JOB_STATE_CANCEL", "JOB_STATES", "__version__",
]
