"""Hyperas' entry point: ``optim.minimize(model=..., data=..., algo=..., max_evals=...)``.

A Hyperas script migrates by changing two imports::

    from hpo.template import optim                          # was: from hyperas import optim
    from hpo.template.distributions import choice, uniform  # was: from hyperas.distributions ...

and keeps working in notebooks without ``notebook_name``.
"""

from __future__ import annotations

import logging
import os

from ..base import Trials
from ..fmin import fmin
from ..trials_file import load_trials
from .compiler import Template, compile_template
from .errors import TemplateError

logger = logging.getLogger(__name__)


def default_algo():
    """``tpe.suggest`` when TPE is available, else ``rand.suggest``."""
    try:
        from ..algos import tpe
    except ImportError:
        from ..algos import rand

        return rand.suggest
    return tpe.suggest


def minimize(model, data=None, algo=None, max_evals=None, trials=None, rstate=None, *,
             data_args=(), model_dir=None, return_space=False, verbose=True,
             notebook_name=None, functions=None, keep_temp=False, eval_space=True,
             **fmin_kwargs):
    """Search a template; return ``(best_run, best_model)`` as Hyperas does.

    Parameters
    ----------
    model : a function with ``{{...}}`` placeholders, template text, a path to a ``.py``
        file, or a compiled :class:`~hpo.template.Template`.
    data : function whose results feed the model function by name; called once per
        process. Default: ``data`` defined in the template's file or text.
    algo : suggest function; ``tpe.suggest`` by default (``rand.suggest`` if TPE is absent).
    max_evals, trials, rstate, **fmin_kwargs : as for :func:`hpo.fmin` (``timeout``,
        ``trials_save_file``, ``points_to_evaluate``, ``early_stop_fn``, ...).
    data_args : positional arguments for ``data``.
    model_dir : directory where the best model of each process is saved (``.keras``); needed
        to get ``best_model`` back when trials run in worker processes.
    return_space : also return the space, as Hyperas' ``return_space=True``.
    verbose : show the progress bar.
    notebook_name, functions, keep_temp, eval_space : accepted for Hyperas compatibility and
        not needed: templates run in notebooks as they are, see the globals of the model
        function, write no files, and ``best_run`` always holds values.

    Returns
    -------
    best_run : ``{label: value}`` of the best trial -- chosen option values, not indices.
    best_model : the ``model`` the best trial's model function returned (None if it returned
        none, or if the best trial ran in another process and left no ``model_path``).

    >>> from hpo.template import compile_template, optim
    >>> from hpo import rand
    >>> import numpy as np
    >>> t = compile_template('''
    ... def model():
    ...     x = <<choice([1, 2, 3])>>
    ...     return {"loss": (x - 2) ** 2, "model": f"model-{x}"}
    ... ''')
    >>> best_run, best_model = optim.minimize(t, algo=rand.suggest, max_evals=10,
    ...                                       rstate=np.random.default_rng(0), verbose=False)
    >>> best_run, best_model
    ({'x': 2}, 'model-2')
    """
    del notebook_name, functions, keep_temp, eval_space  # see docstring: not needed here
    if max_evals is None and fmin_kwargs.get("timeout") is None:
        raise TemplateError("minimize needs max_evals (or timeout=) to know when to stop, "
                            "got max_evals=None")
    template = model if isinstance(model, Template) else compile_template(model)
    objective = template.objective(data, data_args=data_args, model_dir=model_dir)
    if getattr(trials, "store", None) is None:
        # In this process: load data and match it to the model's parameters before the first
        # trial, so a mismatch is reported as such and not as a failed trial.
        objective.data_kwargs()
    trials = Trials() if trials is None else trials
    fmin_kwargs.setdefault("show_progressbar", verbose)
    fmin(objective, template.space, algo=algo or default_algo(), max_evals=max_evals,
         trials=trials, rstate=rstate, **fmin_kwargs)
    if fmin_kwargs.get("trials_save_file"):
        # fmin resumes from the file into trials of its own; the file has them all.
        trials = load_trials(fmin_kwargs["trials_save_file"])
    best_trial = trials.best_trial
    best_run = template.values(best_trial["misc"]["vals"])
    best_model = _best_model(objective, best_trial)
    if return_space:
        return best_run, best_model, template.space
    return best_run, best_model


def _best_model(objective, best_trial):
    if objective.best_model is not None and objective.best_tid == best_trial["tid"]:
        return objective.best_model
    path = best_trial["result"].get("model_path")
    if path and os.path.exists(path):
        import keras

        return keras.saving.load_model(path)
    if path or objective.best_model is not None:
        logger.warning("the best trial (tid %s) ran elsewhere or earlier and its model is not "
                       "available here", best_trial["tid"])
    return None
