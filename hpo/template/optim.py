"""Hyperas' entry point: ``optim.minimize(model=..., data=..., algo=..., max_evals=...)``.

A Hyperas script migrates by changing two imports::

    from hpo.template import optim                          # was: from hyperas import optim
    from hpo.template.distributions import choice, uniform  # was: from hyperas.distributions ...

and keeps working in notebooks without ``notebook_name``. ``optim.best_models`` and
``optim.best_ensemble`` are here too, and ``hpo.template.ensemble.VotingModel``.
"""

from __future__ import annotations

import logging
import os

import numpy as np

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
             rseed=None, data_args=(), model_dir=None, return_space=False, verbose=True,
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
    rseed : Hyperas' seed: an int, used as ``rstate=numpy.random.default_rng(rseed)``; give
        ``rseed`` or ``rstate``, not both. Unlike Hyperas (1337), no seed by default.
    data_args : positional arguments for ``data``.
    model_dir : directory where the best model of each process is saved (``.keras``); needed
        to get ``best_model`` back when trials run in worker processes.
    return_space : also return the space, as Hyperas' ``return_space=True``.
    verbose : show the progress bar.
    eval_space : True (the default here; Hyperas' default is False): ``best_run`` holds the
        chosen values; False: choices as indices, as Hyperas' ``eval_space=False``.
    notebook_name, functions, keep_temp : accepted for Hyperas compatibility and do nothing:
        templates run in notebooks as they are, see the globals of the model function, and
        write no temporary files.

    Returns
    -------
    best_run : ``{label: value}`` of the best trial -- chosen option values, not indices
        (unless ``eval_space=False``).
    best_model : the ``model`` the best trial's model function returned (None if it returned
        none, or if the best trial ran in another process and left no ``model_path``).

    >>> from hpo.template import compile_template, optim
    >>> from hpo import rand
    >>> t = compile_template('''
    ... def model():
    ...     x = <<choice([1, 2, 3])>>
    ...     return {"loss": (x - 2) ** 2, "model": f"model-{x}"}
    ... ''')
    >>> best_run, best_model = optim.minimize(t, algo=rand.suggest, max_evals=10, rseed=0,
    ...                                       verbose=False)
    >>> best_run, best_model
    ({'x': 2}, 'model-2')
    >>> optim.minimize(t, algo=rand.suggest, max_evals=10, rseed=0, verbose=False,
    ...                eval_space=False)[0]
    {'x': 1}
    """
    del notebook_name, functions, keep_temp  # see docstring: not needed here
    template, objective, trials = _search(
        model, data, algo, max_evals, trials, rstate, rseed, data_args, model_dir, verbose,
        1, fmin_kwargs)
    best_trial = trials.best_trial
    if eval_space:
        best_run = template.values(best_trial["misc"]["vals"])
    else:
        best_run = {label: values[0] for label, values in best_trial["misc"]["vals"].items()
                    if values}
    best_model = _best_model(objective, best_trial)
    if return_space:
        return best_run, best_model, template.space
    return best_run, best_model


def best_models(nb_models, model, data=None, algo=None, max_evals=None, trials=None,
                functions=None, keep_temp=False, *, rstate=None, rseed=None, data_args=(),
                verbose=True, **fmin_kwargs):
    """Search a template; return the ``nb_models`` best trained models, best first.

    As Hyperas' ``optim.best_models``: the models the model function returned (its
    ``"model"``), ordered by loss; fewer when fewer trials returned one. Only the
    ``nb_models`` best are kept in memory during the search. Trials run in other processes
    keep their models there: run in this process to get them. Other arguments as for
    :func:`minimize`.

    >>> from hpo.template import compile_template, optim
    >>> from hpo import rand
    >>> t = compile_template('''
    ... def model():
    ...     x = <<uniform(0, 4)>>
    ...     return {"loss": abs(x - 2), "model": f"model-{x:.2f}"}
    ... ''')
    >>> optim.best_models(3, t, algo=rand.suggest, max_evals=20, rseed=0, verbose=False)
    ['model-2.01', 'model-1.94', 'model-2.19']
    """
    del functions, keep_temp  # as for minimize: not needed here
    if isinstance(nb_models, bool) or not isinstance(nb_models, int) or nb_models < 1:
        raise TemplateError(f"nb_models must be a positive int, got nb_models={nb_models!r}")
    _, objective, trials = _search(
        model, data, algo, max_evals, trials, rstate, rseed, data_args, None, verbose,
        nb_models, fmin_kwargs)
    models = [kept for _, _, kept in objective.kept_models]
    if len(models) < nb_models:
        logger.warning("best_models: %d of the %d models asked for are available here (%d "
                       "trials; a model is kept when a trial in this process returns one)",
                       len(models), nb_models, len(trials))
    return models


def best_ensemble(nb_ensemble_models, model, data=None, algo=None, max_evals=None, trials=None,
                  voting="hard", weights=None, nb_classes=None, functions=None, **kwargs):
    """Search a template; return a :class:`~hpo.template.ensemble.VotingModel` of the best.

    As Hyperas' ``optim.best_ensemble``: the ``nb_ensemble_models`` best models (see
    :func:`best_models`, whose keyword arguments it takes) vote in ``predict``: ``"hard"``,
    each model's class counts once (ties go to the better model); ``"soft"``, the class
    probabilities are averaged, weighted by ``weights``.

    >>> from hpo.template import compile_template, optim
    >>> from hpo import rand
    >>> import numpy as np
    >>> t = compile_template('''
    ... import numpy as np
    ... class Constant:
    ...     def __init__(self, k):
    ...         self.k = k
    ...     def predict(self, x):
    ...         return np.eye(3)[[self.k] * len(x)]
    ... def model():
    ...     k = <<choice([0, 1, 2])>>
    ...     return {"loss": abs(k - 0.9), "model": Constant(k)}
    ... ''')
    >>> ensemble = optim.best_ensemble(2, t, algo=rand.suggest, max_evals=10, rseed=0,
    ...                                verbose=False)
    >>> ensemble
    <VotingModel hard of 2 models>
    >>> ensemble.predict(np.zeros((3, 1)))  # models 1 and 0 tie: the better one, 1, wins
    array([1, 1, 1])
    """
    from .ensemble import VotingModel

    if voting not in ("hard", "soft"):  # before the search, not after it
        raise TemplateError(f"voting must be 'hard' or 'soft', got voting={voting!r}")
    models = best_models(nb_ensemble_models, model, data, algo, max_evals, trials,
                         functions=functions, **kwargs)
    if not models:
        raise TemplateError("best_ensemble: no trial in this process returned a model "
                            "(return {'loss': ..., 'status': 'ok', 'model': model})")
    if weights is not None and len(weights) != len(models):
        raise TemplateError(f"weights has {len(weights)} values but {len(models)} models were "
                            f"found; got weights={list(weights)!r}")
    return VotingModel(models, voting=voting, weights=weights, nb_classes=nb_classes)


def _search(model, data, algo, max_evals, trials, rstate, rseed, data_args, model_dir,
            verbose, keep_models, fmin_kwargs):
    """Compile, run ``fmin``; return ``(template, objective, trials holding them all)``."""
    if max_evals is None and fmin_kwargs.get("timeout") is None:
        raise TemplateError("minimize needs max_evals (or timeout=) to know when to stop, "
                            "got max_evals=None")
    if rseed is not None:
        if rstate is not None:
            raise TemplateError(f"give rseed or rstate, not both; got rseed={rseed!r} and "
                                f"rstate={rstate!r}")
        if isinstance(rseed, bool) or not isinstance(rseed, (int, np.integer)) or rseed < 0:
            raise TemplateError(f"rseed must be a non-negative int, got rseed={rseed!r}")
        rstate = np.random.default_rng(int(rseed))
    template = model if isinstance(model, Template) else compile_template(model)
    data_args = () if data_args is None else data_args  # Hyperas' default is None
    objective = template.objective(data, data_args=data_args, model_dir=model_dir)
    objective.keep_models = keep_models
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
    return template, objective, trials


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
