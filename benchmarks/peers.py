"""The optimizers hpo is compared with, each as one runner over a benchmark task.

An optimizer is named by a spec ``name[:key=value,...]``; the options go to the optimizer (hpo
and Hyperopt algorithms get them as ``suggest`` keywords, Optuna's samplers as constructor
arguments, regularized evolution as its arguments), e.g. ``hpo-tpe:n_startup_jobs=10``.

=========================  ==================================================================
hpo-tpe, hpo-anneal,       ``hpo.fmin`` with ``tpe`` / ``anneal`` / ``rand.suggest``
hpo-rand
hpo-nasnet                 ``hpo.fmin`` with ``nas.nasnet.suggest`` (its REINFORCE controller
                           over the space's choices; NAS-Bench-201)
hyperopt-tpe,              ``hyperopt.fmin`` (0.3) with ``tpe`` / ``anneal``
hyperopt-anneal
optuna-tpe, optuna-gp,     Optuna's ``TPESampler()``, ``GPSampler()`` (needs torch),
optuna-random              ``RandomSampler()``
smac                       SMAC3's ``HyperparameterOptimizationFacade`` (random forest, EI,
                           Sobol initial design) through ask/tell; output under /tmp
random                     uniform over a table's grid with numpy (tabular tasks only)
regularized-evolution      :mod:`regularized_evolution` (NAS-Bench-201 only)
=========================  ==================================================================

A task offers ``hpo_space()``, ``hyperopt_space()``, ``optuna_params(trial)`` and either
``configspace(seed)`` (the tabular tasks) or ``params`` of :mod:`tasks` (``P``/``C``), turned
into a ConfigSpace here. ``objective(flat)`` takes ``{label: value}`` and returns the observed
loss; it records what it needs itself.

>>> parse_spec("hpo-tpe:n_startup_jobs=10,prior_weight=1.0")
('hpo-tpe', {'n_startup_jobs': 10, 'prior_weight': 1.0})
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from functools import partial

import numpy as np

from tasks import C, flatten

SMAC_OUTPUT = "smac3_output"  # folder name under the system's temporary directory


def parse_spec(spec):
    """``(name, options)`` of ``name[:key=value,...]``; values are JSON when they parse as JSON."""
    name, _, text = spec.partition(":")
    options = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"optimizer options must be key=value, got {item!r} in {spec!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    if name not in RUNNERS:
        raise ValueError(f"optimizer must be one of {sorted(RUNNERS)}, got {name!r} in {spec!r}")
    return name, options


def run(spec, task, objective, seed, n_evals):
    """Let the optimizer ``spec`` minimize ``objective`` over ``task``'s space for ``n_evals``."""
    name, options = parse_spec(spec)
    RUNNERS[name](task, objective, seed, n_evals, options)


def _hpo(algo_name, task, objective, seed, n_evals, options):
    import importlib

    from hpo import Trials, fmin

    algo = importlib.import_module(f"hpo.{algo_name}").suggest
    fmin(lambda p: objective(flatten(p)), task.hpo_space(), algo=partial(algo, **options),
         max_evals=n_evals, trials=Trials(), rstate=np.random.default_rng(seed), show_progressbar=False)


def _hyperopt(algo_name, task, objective, seed, n_evals, options):
    import hyperopt

    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    algo = getattr(hyperopt, algo_name).suggest
    hyperopt.fmin(lambda p: objective(flatten(p)), task.hyperopt_space(), algo=partial(algo, **options),
                  max_evals=n_evals, trials=hyperopt.Trials(), rstate=np.random.default_rng(seed),
                  show_progressbar=False)


def _optuna(sampler_name, task, objective, seed, n_evals, options):
    import optuna

    # ERROR: GPSampler logs a warning per parameter it samples independently (conditional spaces).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = getattr(optuna.samplers, sampler_name)(seed=seed, **options)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: objective(task.optuna_params(t)), n_trials=n_evals)


def _smac(task, objective, seed, n_evals, options):
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.main.exceptions import ConfigurationSpaceExhaustedException
    from smac.runhistory.dataclasses import TrialValue

    if hasattr(task, "configspace"):
        cs, decode = task.configspace(seed), lambda values: {k: int(v) for k, v in values.items()}
    else:
        cs, decode = configspace_from_params(task.params, seed)
    with tempfile.TemporaryDirectory(prefix=f"{SMAC_OUTPUT}_") as out:
        # deterministic=True: SMAC evaluates a configuration once, as every other optimizer here does.
        scenario = Scenario(cs, name=f"{task.name}_{seed}", output_directory=out, deterministic=True,
                            n_trials=n_evals, seed=seed)
        smac = HyperparameterOptimizationFacade(scenario, None, overwrite=True, logging_level=logging.ERROR,
                                                **options)
        for i in range(n_evals):
            try:
                info = smac.ask()
            except ConfigurationSpaceExhaustedException:
                # A space with fewer configurations than n_evals (n_arms): SMAC has evaluated
                # them all; the remaining evaluations repeat its incumbent, as it would recommend.
                best = decode(dict(smac.intensifier.get_incumbent()))
                for _ in range(n_evals - i):
                    objective(best)
                return
            smac.tell(info, TrialValue(cost=float(objective(decode(dict(info.config))))))


def _random(task, objective, seed, n_evals, options):
    if options:
        raise ValueError(f"random takes no options, got {options!r}")
    if not hasattr(task, "configspace"):
        raise ValueError(f"random runs on the tabular tasks only, not {task.name!r}")
    rng = np.random.default_rng([seed, 7])
    for _ in range(n_evals):
        objective({p.label: int(rng.integers(p.n)) for p in task.params})


def _regularized_evolution(task, objective, seed, n_evals, options):
    from regularized_evolution import regularized_evolution

    if getattr(task, "benchmark", None) != "nas201":
        raise ValueError(f"regularized-evolution runs on NAS-Bench-201 only, not {task.name!r}")
    labels = [p.label for p in task.params]
    regularized_evolution(lambda cell: objective(dict(zip(labels, cell))), n_evals,
                          np.random.default_rng([seed, 11]), n_edges=len(labels), n_ops=task.params[0].n,
                          **options)


RUNNERS = {
    "hpo-tpe": partial(_hpo, "tpe"),
    "hpo-anneal": partial(_hpo, "anneal"),
    "hpo-rand": partial(_hpo, "rand"),
    "hpo-nasnet": partial(_hpo, "nas.nasnet"),
    "hyperopt-tpe": partial(_hyperopt, "tpe"),
    "hyperopt-anneal": partial(_hyperopt, "anneal"),
    "optuna-tpe": partial(_optuna, "TPESampler"),
    "optuna-gp": partial(_optuna, "GPSampler"),
    "optuna-random": partial(_optuna, "RandomSampler"),
    "smac": _smac,
    "random": _random,
    "regularized-evolution": _regularized_evolution,
}


# -- ConfigSpace for the tasks of tasks.py -------------------------------------------------------


def configspace_from_params(params, seed=0):
    """A ConfigSpace for :mod:`tasks` parameters, and ``decode(values) -> flat dict``.

    A choice becomes a categorical over option indices whose sub-parameters are active under
    an equality condition. ConfigSpace has no quantized floats: ``quniform``/``qloguniform``/
    ``qnormal``/``qlognormal`` become integers counting ``q`` steps (decoded back as ``k * q``),
    ``normal``/``lognormal`` normal-distributed floats on ``mu ± 4 sigma`` (as for Optuna),
    ``pchoice`` a weighted categorical.
    """
    from ConfigSpace import (Categorical, ConfigurationSpace, EqualsCondition, Float, Integer,
                             Normal)

    cs = ConfigurationSpace(seed=seed)
    steps = {}  # label -> q of the integer-coded quantized parameters

    def add(param_list, parent=None, option=None):
        for p in param_list:
            if isinstance(p, C):
                hp_ = Categorical(p.label, list(range(len(p.options))))
            else:
                hp_ = _cs_param(p, steps, Float, Integer, Normal, Categorical)
            cs.add(hp_)
            if parent is not None:
                cs.add(EqualsCondition(hp_, parent, option))
            if isinstance(p, C):
                for i, option_params in enumerate(p.options):
                    add(option_params, hp_, i)

    add(params)

    def decode(values):
        flat = {}
        for label, v in values.items():
            if label in steps:
                flat[label] = int(v) * steps[label]
            elif isinstance(v, (int, np.integer)):
                flat[label] = int(v)
            else:
                flat[label] = float(v)
        return flat

    return cs, decode


def _cs_param(p, steps, Float, Integer, Normal, Categorical):
    a, label = p.args, p.label
    if p.kind == "uniform":
        return Float(label, (a[0], a[1]))
    if p.kind == "loguniform":
        return Float(label, (a[0], a[1]), log=True)
    if p.kind == "randint":
        return Integer(label, (a[0], a[1] - 1))
    if p.kind == "pchoice":
        return Categorical(label, list(range(len(a))), weights=list(a))
    if p.kind == "quniform":
        steps[label] = a[2]
        return Integer(label, (math.ceil(a[0] / a[2]), math.floor(a[1] / a[2])))
    if p.kind == "qloguniform":
        steps[label] = a[2]
        return Integer(label, (max(1, math.ceil(a[0] / a[2])), math.floor(a[1] / a[2])), log=True)
    if p.kind == "normal":
        return Float(label, (a[0] - 4 * a[1], a[0] + 4 * a[1]), distribution=Normal(a[0], a[1]))
    if p.kind == "lognormal":
        return Float(label, (math.exp(a[0] - 4 * a[1]), math.exp(a[0] + 4 * a[1])), log=True)
    if p.kind == "qnormal":
        steps[label] = a[2]
        return Integer(label, (round((a[0] - 4 * a[1]) / a[2]), round((a[0] + 4 * a[1]) / a[2])))
    if p.kind == "qlognormal":
        steps[label] = a[2]
        return Integer(label, (0, round(math.exp(a[0] + 4 * a[1]) / a[2])))
    raise ValueError(f"unknown kind {p.kind!r} of parameter {label!r}")
