"""Benchmark tasks, each defined once and rendered as an hpo space, a Hyperopt space and an
Optuna search function.

A task's parameters are :class:`P` (a labelled distribution) and :class:`C` (a labelled
choice whose options hold lists of parameters). Every optimizer hands the objective the same
flat dict ``{label: value}``: active labels only, a choice as its option index.

Optuna has no normal priors, so ``normal``-family parameters become bounded ranges of
``mu ± 4 sigma`` (in log space for the log kinds) there; ``pchoice`` becomes a plain
categorical. Hyperopt and hpo use the same priors.

Noisy tasks (``n_arms``, ``gauss_wave2``) add seeded noise to what the optimizer sees; the
benchmark scores the noiseless loss of the configuration with the best observed loss.

>>> task = TASKS["branin"]
>>> round(task.loss({"x": -math.pi, "y": 12.275}), 4)
0.3979
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class P:
    """A distribution: kind in uniform, loguniform (value bounds), quniform, qloguniform (value
    bounds), randint (low, high exclusive), pchoice (probabilities), normal, lognormal, qnormal,
    qlognormal (Hyperopt's mu, sigma[, q])."""

    label: str
    kind: str
    args: tuple


@dataclass(frozen=True)
class C:
    """A choice among options, each a list of parameters (possibly empty)."""

    label: str
    options: tuple


@dataclass
class Task:
    name: str
    params: list
    loss: Callable  # flat dict -> noiseless loss
    f_star: float
    group: str = "synthetic"  # "synthetic", "classic" or "sklearn"
    noise: Callable | None = None  # (flat dict, rng) -> observed loss
    note: str = ""
    extra: dict = field(default_factory=dict)

    # -- spaces --------------------------------------------------------------------------------

    def hpo_space(self):
        from hpo import hp

        return _space(hp, self.params)

    def hyperopt_space(self):
        from hyperopt import hp

        return _space(hp, self.params)

    def optuna_params(self, trial):
        flat = {}
        _optuna(trial, self.params, flat)
        return flat


def flatten(value, out=None):
    """The nested dict an hp space evaluates to, as ``{label: value}``."""
    out = {} if out is None else out
    for key, v in value.items():
        if isinstance(v, dict):
            flatten(v, out)
        else:
            out[key] = v
    return out


def _space(hp, params):
    space = {}
    for p in params:
        if isinstance(p, C):
            space[p.label] = hp.choice(
                p.label, [{p.label: i, **_space(hp, option)} for i, option in enumerate(p.options)])
            continue
        a = p.args
        if p.kind == "uniform":
            space[p.label] = hp.uniform(p.label, *a)
        elif p.kind == "loguniform":
            space[p.label] = hp.loguniform(p.label, math.log(a[0]), math.log(a[1]))
        elif p.kind == "quniform":
            space[p.label] = hp.quniform(p.label, *a)
        elif p.kind == "qloguniform":
            space[p.label] = hp.qloguniform(p.label, math.log(a[0]), math.log(a[1]), a[2])
        elif p.kind == "randint":
            space[p.label] = hp.randint(p.label, *a)
        elif p.kind == "pchoice":
            space[p.label] = hp.pchoice(p.label, [(pr, i) for i, pr in enumerate(a)])
        else:  # normal, lognormal, qnormal, qlognormal
            space[p.label] = getattr(hp, p.kind)(p.label, *a)
    return space


def _optuna(trial, params, flat):
    for p in params:
        if isinstance(p, C):
            i = trial.suggest_categorical(p.label, list(range(len(p.options))))
            flat[p.label] = i
            _optuna(trial, p.options[i], flat)
            continue
        a, label = p.args, p.label
        if p.kind == "uniform":
            flat[label] = trial.suggest_float(label, *a)
        elif p.kind == "loguniform":
            flat[label] = trial.suggest_float(label, a[0], a[1], log=True)
        elif p.kind == "quniform":
            flat[label] = trial.suggest_float(label, a[0], a[1], step=a[2])
        elif p.kind == "qloguniform":
            k = trial.suggest_int(label, max(1, math.ceil(a[0] / a[2])), math.floor(a[1] / a[2]), log=True)
            flat[label] = k * a[2]
        elif p.kind == "randint":
            flat[label] = trial.suggest_int(label, a[0], a[1] - 1)
        elif p.kind == "pchoice":
            flat[label] = trial.suggest_categorical(label, list(range(len(a))))
        elif p.kind == "normal":
            flat[label] = trial.suggest_float(label, a[0] - 4 * a[1], a[0] + 4 * a[1])
        elif p.kind == "lognormal":
            flat[label] = trial.suggest_float(label, math.exp(a[0] - 4 * a[1]), math.exp(a[0] + 4 * a[1]), log=True)
        elif p.kind == "qnormal":
            q = a[2]
            flat[label] = trial.suggest_float(label, q * round((a[0] - 4 * a[1]) / q),
                                              q * round((a[0] + 4 * a[1]) / q), step=q)
        elif p.kind == "qlognormal":
            q = a[2]
            flat[label] = q * trial.suggest_int(label, 0, round(math.exp(a[0] + 4 * a[1]) / q))
        else:
            raise ValueError(f"unknown kind {p.kind!r}")


# -- synthetic functions ------------------------------------------------------------------------


def _xs(d, n):
    return np.array([d[f"x{i}"] for i in range(n)])


def branin(d):
    x, y = d["x"], d["y"]
    return ((y - 5.1 / (4 * math.pi**2) * x**2 + 5 * x / math.pi - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10)


_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(d):
    x = _xs(d, 6)
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def rosenbrock(d):
    x = _xs(d, 5)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(d):
    x = _xs(d, 10)
    return float(-20 * math.exp(-0.2 * math.sqrt(np.mean(x**2))) - math.exp(np.mean(np.cos(2 * math.pi * x)))
                 + 20 + math.e)


def levy(d):
    w = 1 + (_xs(d, 10) - 1) / 4
    return float(math.sin(math.pi * w[0]) ** 2
                 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2))


def styblinski_tang(d):
    x = _xs(d, 10)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def log_scale(d):
    # Optimum at (1e-3, 3e-2, 10): a learning-rate / regularization / width-like landscape
    # with one interaction, all three in log scale.
    a, b, c = math.log10(d["lr"]) + 3, math.log10(d["reg"]) - math.log10(3e-2), math.log10(d["width"]) - 1
    return a * a + 0.5 * b * b + 0.3 * c * c + 0.4 * a * b


_MIXED_CAT = (1.0, 0.5, 0.0, 0.8, 1.5)


def mixed(d):
    return ((d["u1"] - 1) ** 2 + 0.25 * (d["u2"] + 2) ** 2 + 0.02 * (d["q"] - 6) ** 2
            + _MIXED_CAT[d["cat"]] + 0.01 * (d["r"] - 7) ** 2)


def conditional(d):
    if d["model"] == 0:  # easy branch with a worse optimum (1.0)
        return 1.0 + (d["a_x"] - 2) ** 2 + 0.5 * (d["a_y"] + 1) ** 2
    return 0.5 * (d["b_u"] - 7) ** 2 + 2 * (math.log10(d["b_v"]) + 1) ** 2 + (d["b_w"] - 1) ** 2


# -- Hyperopt's classic test domains (hyperopt/tests/unit/test_domains.py) ---------------------


def quadratic1(d):
    return (d["x"] - 3) ** 2


def q1_lognormal(d):
    return min(0.1 * (d["x"] - 10) ** 2, 10)


def n_arms(d):
    return (-1.0, 0.0)[d["x"]]


def distractor(d):
    x = d["x"]
    return -1 / (1 + math.exp(-x)) - 2 * math.exp(-((x + 10) ** 2))


def gauss_wave(d):
    t = d["x"] + (math.pi if d["curve"] == 1 else 0.0)
    return -(math.sin(t) + 2 * math.exp(-((t / 5) ** 2)))


def gauss_wave2(d):
    t = 2 * math.exp(-((d["x"] / 5) ** 2))
    return -(t + (math.sin(d["x"]) * d["amp"] if d["hf"] == 1 else 0.0))


def many_dists(d):
    z = sum(d[k] for k in "abcdefghijk") + d["bb"]
    return math.log(1e-12 + z**2)


def _gaussian_noise(sigma):
    def noisy(loss, rng):
        return loss + rng.normal(0.0, sigma)

    return noisy


def _u(label, lo, hi):
    return P(label, "uniform", (lo, hi))


# -- scikit-learn tasks (3-fold CV error on bundled data) --------------------------------------


def _cv_error(make_model, load):
    from sklearn.model_selection import cross_val_score

    X, y = load(return_X_y=True)
    return 1.0 - float(np.mean(cross_val_score(make_model(), X, y, cv=3)))


def svc_digits(d):
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    return _cv_error(lambda: SVC(C=d["C"], gamma=d["gamma"]), load_digits)


def hgb_breast_cancer(d):
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier

    return _cv_error(lambda: HistGradientBoostingClassifier(
        learning_rate=d["learning_rate"], max_leaf_nodes=int(d["max_leaf_nodes"]),
        min_samples_leaf=int(d["min_samples_leaf"]), l2_regularization=d["l2"], max_iter=50,
        random_state=0), load_breast_cancer)


def mlp_wine(d):
    from sklearn.datasets import load_wine
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import warnings
    from sklearn.exceptions import ConvergenceWarning

    def model():
        return make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(int(d["units"]),), alpha=d["alpha"],
            learning_rate_init=d["lr"], max_iter=100, random_state=0))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short training is the point
        return _cv_error(model, load_wine)


_TASK_LIST = [
    Task("branin", [_u("x", -5, 10), _u("y", 0, 15)], branin, 0.397887),
    Task("hartmann6", [_u(f"x{i}", 0, 1) for i in range(6)], hartmann6, -3.32237),
    Task("rosenbrock5", [_u(f"x{i}", -5, 10) for i in range(5)], rosenbrock, 0.0),
    Task("ackley10", [_u(f"x{i}", -32.768, 32.768) for i in range(10)], ackley, 0.0),
    Task("levy10", [_u(f"x{i}", -10, 10) for i in range(10)], levy, 0.0),
    Task("styblinski_tang10", [_u(f"x{i}", -5, 5) for i in range(10)], styblinski_tang, -391.661657),
    Task("log_scale", [P("lr", "loguniform", (1e-6, 1.0)), P("reg", "loguniform", (1e-5, 10.0)),
                       P("width", "loguniform", (1.0, 1e4))], log_scale, 0.0),
    Task("mixed", [_u("u1", -5, 5), _u("u2", -5, 5), P("q", "quniform", (0, 20, 2)),
                   C("cat", ((), (), (), (), ())), P("r", "randint", (0, 20))], mixed, 0.0),
    Task("conditional", [C("model", (
        [_u("a_x", -5, 5), _u("a_y", -5, 5)],
        [_u("b_u", 0, 10), P("b_v", "loguniform", (1e-4, 1e2)), _u("b_w", -3, 3)]))],
        conditional, 0.0),
    Task("quadratic1", [_u("x", -5, 5)], quadratic1, 0.0, "classic"),
    Task("q1_lognormal", [P("x", "lognormal", (0, 2))], q1_lognormal, 0.0, "classic"),
    Task("n_arms", [C("x", ((), ()))], n_arms, -1.0, "classic", noise=_gaussian_noise(1.0),
         note="noise N(0, 1); scored noiselessly"),
    Task("distractor", [_u("x", -15, 15)], distractor, None, "classic"),
    Task("gauss_wave", [_u("x", -20, 20), C("curve", ((), ()))], gauss_wave, None, "classic"),
    Task("gauss_wave2", [_u("x", -20, 20), _u("amp", 0, 1), C("hf", ((), ()))], gauss_wave2, None,
         "classic", noise=_gaussian_noise(0.1), note="noise N(0, 0.1); scored noiselessly"),
    Task("many_dists", [C("a", ((), (), ())), P("b", "randint", (0, 10)), P("bb", "randint", (12, 25)),
                        _u("c", 4, 7), P("d", "loguniform", (math.exp(-2), 1.0)),
                        P("e", "quniform", (0, 10, 3)), P("f", "qloguniform", (1.0, math.exp(3), 2)),
                        P("g", "normal", (4, 7)), P("h", "lognormal", (-2, 2)), P("i", "qnormal", (0, 10, 2)),
                        P("j", "qlognormal", (0, 2, 1)), P("k", "pchoice", (0.1, 0.9))],
         many_dists, math.log(1e-12), "classic"),
    Task("svc_digits", [P("C", "loguniform", (1e-2, 1e3)), P("gamma", "loguniform", (1e-5, 1e-1))],
         svc_digits, None, "sklearn"),
    Task("hgb_breast_cancer", [P("learning_rate", "loguniform", (1e-3, 1.0)),
                               P("max_leaf_nodes", "randint", (4, 64)),
                               P("min_samples_leaf", "randint", (2, 50)),
                               P("l2", "loguniform", (1e-4, 10.0))], hgb_breast_cancer, None, "sklearn"),
    Task("mlp_wine", [P("units", "randint", (4, 128)), P("alpha", "loguniform", (1e-6, 1.0)),
                      P("lr", "loguniform", (1e-4, 1e-1))], mlp_wine, None, "sklearn"),
]


def _grid_min(fn, grid):
    return min(fn(point) for point in grid)


def _fill_known_optima():
    # gauss_wave / gauss_wave2: 1-d searches on a fine grid give the optimum.
    xs = np.linspace(-20, 20, 400001)
    t = np.concatenate([xs, xs + math.pi])
    gw = float(np.min(-(np.sin(t) + 2 * np.exp(-((t / 5) ** 2)))))
    x = xs
    gw2 = float(np.min(np.minimum(-2 * np.exp(-((x / 5) ** 2)),
                                  -(2 * np.exp(-((x / 5) ** 2)) + np.maximum(np.sin(x), 0)))))
    x = np.linspace(-10.5, -9.5, 200001)
    dis = float(np.min(-1 / (1 + np.exp(-x)) - 2 * np.exp(-((x + 10) ** 2))))
    for task in _TASK_LIST:
        if task.name == "gauss_wave":
            task.f_star = gw
        elif task.name == "gauss_wave2":
            task.f_star = gw2
        elif task.name == "distractor":
            task.f_star = dis


_fill_known_optima()
TASKS = {task.name: task for task in _TASK_LIST}
SYNTHETIC = [t.name for t in _TASK_LIST if t.group in ("synthetic", "classic")]
SKLEARN = [t.name for t in _TASK_LIST if t.group == "sklearn"]
