"""benchmarks/animal_data.py: the restricted unpickler of the Animal-Shape files and the split."""

from __future__ import annotations

import gzip
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
import animal_data  # noqa: E402

needs_data = pytest.mark.skipif(importlib.util.find_spec(animal_data.PACKAGE) is None,
                                reason="animal-shape-mnist is not installed")


class _CallsSystem:
    def __reduce__(self):
        return os.system, ("echo unpickled",)


@pytest.mark.parametrize("array", [np.arange(6, dtype="uint8").reshape(2, 3), np.array([1.5, -2.0])])
def test_unpickler_reads_numpy_arrays(array, tmp_path):
    path = tmp_path / "array.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(array, f, protocol=4)
    loaded = animal_data.load_array(path)
    assert loaded.dtype == array.dtype and np.array_equal(loaded, array)


@pytest.mark.parametrize("payload", [_CallsSystem(), os.getcwd, np.float64(1.0), {"a": np.arange(3)}.items])
def test_unpickler_refuses_non_numpy_globals(payload):
    raw = pickle.dumps(payload)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        animal_data.ArrayUnpickler(io.BytesIO(raw)).load()


def test_a_pickle_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "list.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(pickle.UnpicklingError, match="not a numpy array"):
        animal_data.load_array(path)


def test_deduplicate_keeps_the_first_copy():
    images = np.array([[[1]], [[2]], [[1]], [[3]], [[2]]], dtype="uint8")
    labels = np.arange(5)
    _, kept_labels, dropped = animal_data.deduplicate(images, labels)
    assert dropped == 2
    assert kept_labels.tolist() == [0, 1, 3]


@needs_data
def test_raw_files_and_split_sizes():
    images, labels = animal_data.load_raw()
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
    _, _, dropped = animal_data.deduplicate(images, labels)
    assert dropped == 10000 - 6216 - 1500 - 2000
    x_train, y_train, x_val, y_val, x_test, y_test = animal_data.load(pool=2)
    assert x_train.shape == (6216, 14, 14, 1) and y_train.shape == (6216,)
    assert x_val.shape == (1500, 14, 14, 1) and y_val.shape == (1500,)
    assert x_test.shape == (2000, 14, 14, 1) and y_test.shape == (2000,)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    # stratified: every class keeps its share in each split, within one image
    totals = np.bincount(np.concatenate([y_train, y_val, y_test]), minlength=10)
    for y, n in ((y_train, 6216), (y_val, 1500), (y_test, 2000)):
        assert np.all(np.abs(np.bincount(y, minlength=10) - totals * n / totals.sum()) <= 1)
    # no image is in two splits
    seen = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in seen for row in np.concatenate([x_val, x_test]))
