"""Tabular benchmark tasks: HPOLib FCNet (4 data sets), HPOBench NN (8) and NAS-Bench-201 (3).

Each task is a grid from :mod:`tabular_data` rendered as an hpo space, a Hyperopt space, an
Optuna search function and a ConfigSpace (SMAC). Every optimizer hands the objective the same
flat dict ``{label: grid index}``. Parameters are of two kinds:

* ``cat``: an unordered grid (activation, learning-rate schedule, a NAS-Bench-201 edge's op):
  ``hp.choice`` / ``suggest_categorical`` / ``Categorical``.
* ``ord``: an ordered numeric grid (batch size, dropout, widths, learning rates, alpha, depth):
  an integer over the grid indices, ``hp.quniform(label, -0.5, n - 0.5, 1)`` (every index has
  the same prior mass) / ``suggest_int`` / ``Integer``. The learning-rate, alpha, batch-size and
  width grids are geometric, so an index is the value in log scale: these parameters are
  searched log-scaled.

The true loss of a configuration is the table's mean over its seeds (FCNet: validation MSE;
HPOBench NN: 1 - validation accuracy; NAS-Bench-201: validation error, 1 - accuracy / 100).
What an optimizer observes is one of the table's per-seed values, the seed drawn with the run's
rng (:meth:`TabularTask.observe`): the noise of a real rerun. ``f_star`` is the table's best
mean loss and ``median`` the median mean loss over the whole grid, i.e. of a configuration drawn
from the (uniform) prior, so normalized regret ``(loss - f_star) / (median - f_star)`` is 0 at
the table's optimum and 1 for a typical random configuration.

>>> task = TASKS["nas201_cifar10"]                                  # doctest: +SKIP
>>> task.loss({f"edge{i}": 3 for i in range(6)})                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

import tabular_data

# Parameter kinds: which grids are unordered (everything else is an ordered numeric grid).
CATEGORICAL = {"activation_fn_1", "activation_fn_2", "lr_schedule", *tabular_data.NAS201_GRID}


@dataclass(frozen=True)
class GridParam:
    """A table's parameter: ``kind`` "cat" or "ord" over ``n`` grid values (``values``)."""

    label: str
    kind: str
    values: tuple

    @property
    def n(self):
        return len(self.values)


@dataclass(eq=False)
class TabularTask:
    """One data set of a tabular benchmark as an optimization task (see the module docstring)."""

    name: str
    benchmark: str  # "fcnet", "hpobench", "nas201"
    dataset: str

    @cached_property
    def table(self):
        return tabular_data.load(self.benchmark, self.dataset)

    @property
    def params(self):
        return [GridParam(label, "cat" if label in CATEGORICAL else "ord", tuple(values))
                for label, values in tabular_data.BENCHMARKS[self.benchmark][2].items()]

    # -- losses ----------------------------------------------------------------------------------

    def _to_loss(self, metric):
        if self.benchmark == "nas201":
            return 1.0 - np.asarray(metric) / 100.0  # accuracy in %
        if self.benchmark == "hpobench":
            return 1.0 - np.asarray(metric)
        return np.asarray(metric)

    @cached_property
    def losses(self):
        """Mean loss of every configuration, shaped like the grid."""
        return self._to_loss(self.table.mean)

    @cached_property
    def f_star(self):
        return float(self.losses.min())

    @cached_property
    def median(self):
        return float(np.median(self.losses))

    def index(self, flat):
        """Grid indices of a flat ``{label: index}`` (floats from quniform are rounded)."""
        out = []
        for p in self.params:
            if p.label not in flat:
                raise ValueError(f"configuration lacks {p.label!r} for task {self.name}: {flat!r}")
            i = int(round(float(flat[p.label])))
            if not 0 <= i < p.n:
                raise ValueError(f"{p.label} must be a grid index in [0, {p.n}) for task {self.name}, "
                                 f"got {flat[p.label]!r}")
            out.append(i)
        return tuple(out)

    def loss(self, flat):
        """The noiseless loss: the table's mean over seeds."""
        return float(self.losses[self.index(flat)])

    def observe(self, flat, rng):
        """``(observed, true, index)``: one of the table's seeds drawn with ``rng``, the mean, the cell."""
        index = self.index(flat)
        n = int(self.table.n_seeds[index])
        observed = float(self._to_loss(self.table.values[index][rng.integers(n)]))
        return observed, float(self.losses[index]), index

    def normalized_regret(self, loss):
        return np.clip((np.asarray(loss) - self.f_star) / (self.median - self.f_star), 0, None)

    # -- spaces ----------------------------------------------------------------------------------

    def hpo_space(self):
        from hpo import hp

        return _space(hp, self.params)

    def hyperopt_space(self):
        from hyperopt import hp

        return _space(hp, self.params)

    def optuna_params(self, trial):
        return {p.label: (trial.suggest_categorical(p.label, list(range(p.n))) if p.kind == "cat"
                          else trial.suggest_int(p.label, 0, p.n - 1)) for p in self.params}

    def configspace(self, seed=0):
        from ConfigSpace import Categorical, ConfigurationSpace, Integer

        cs = ConfigurationSpace(seed=seed)
        cs.add([Categorical(p.label, list(range(p.n))) if p.kind == "cat" else Integer(p.label, (0, p.n - 1))
                for p in self.params])
        return cs


def _space(hp, params):
    return {p.label: (hp.choice(p.label, list(range(p.n))) if p.kind == "cat"
                      else hp.quniform(p.label, -0.5, p.n - 0.5, 1)) for p in params}


def _names(benchmark, datasets):
    prefix = {"fcnet": "fcnet", "hpobench": "hpobench", "nas201": "nas201"}[benchmark]
    return [TabularTask(f"{prefix}_{d}", benchmark, d) for d in datasets]


_TASK_LIST = (_names("fcnet", tabular_data.FCNET_DATASETS) + _names("hpobench", tabular_data.HPOBENCH_DATASETS)
              + _names("nas201", tabular_data.NAS201_DATASETS))
TASKS = {task.name: task for task in _TASK_LIST}
FCNET = [t.name for t in _TASK_LIST if t.benchmark == "fcnet"]
HPOBENCH = [t.name for t in _TASK_LIST if t.benchmark == "hpobench"]
NAS201 = [t.name for t in _TASK_LIST if t.benchmark == "nas201"]
GROUPS = {"fcnet": FCNET, "hpobench": HPOBENCH, "nas201": NAS201, "tabular": FCNET + HPOBENCH}


def expand(names):
    """Task names from names and group names (``fcnet``, ``hpobench``, ``nas201``, ``tabular``).

    >>> expand(["fcnet", "nas201_cifar10"])[-1]
    'nas201_cifar10'
    """
    out = []
    for name in names:
        if name in GROUPS:
            out += GROUPS[name]
        elif name in TASKS:
            out.append(name)
        else:
            raise ValueError(f"--tasks must name tasks or groups {sorted(GROUPS)}, got {name!r}")
    return list(dict.fromkeys(out))
