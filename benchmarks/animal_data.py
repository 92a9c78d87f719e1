"""Animal-Shape images for the benchmarks: 28x28 silhouettes of 10 animal classes.

The images ship as two gzip-compressed numpy pickles in the ``animal-shape-mnist`` package
(a benchmark-only dependency), under its folder ``data/Animal Shape/``. The package's own
modules are never imported (they import TensorFlow's dataset downloads); the folder is found
with ``importlib.util.find_spec`` and the files are read with :class:`ArrayUnpickler`, which
resolves only the three globals a numpy array's pickle names (``_reconstruct``, ``ndarray``,
``dtype``) and refuses every other one.

:func:`load` drops exact duplicate images (the first copy is kept), then splits the rest,
stratified by class, into train / validation / test (``random_state=0``), optionally
average-pools 2x2 and scales pixels to [0, 1].

>>> x_train, y_train, x_val, y_val, x_test, y_test = load(pool=2)   # doctest: +SKIP
>>> x_train.shape                                                   # doctest: +SKIP
(6216, 14, 14, 1)
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from pathlib import Path

import numpy as np

PACKAGE = "animal_shape_mnist"
FOLDER = "Animal Shape"
DATA_FILE = "animal_data_version_3.gz"
LABEL_FILE = "animal_label_version_3.gz"
N_VAL, N_TEST = 1500, 2000


def _numpy_globals():
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
    return allowed


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and nothing else.

    ``find_class`` answers only numpy's array reconstruction (``numpy.core.multiarray`` /
    ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray`` and ``numpy.dtype``; any other
    global -- ``os.system``, ``numpy.load``, a class to build -- raises ``UnpicklingError``.

    >>> import io
    >>> ArrayUnpickler(io.BytesIO(pickle.dumps(np.arange(3)))).load()
    array([0, 1, 2])
    """

    ALLOWED = _numpy_globals()

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} from an Animal-Shape file") from None


def load_array(path):
    """Read one gzip-compressed pickle with :class:`ArrayUnpickler`; it must hold an ndarray."""
    with gzip.open(path, "rb") as f:
        value = ArrayUnpickler(f).load()
    if not isinstance(value, np.ndarray):
        raise pickle.UnpicklingError(f"{path} holds a {type(value).__name__}, not a numpy array")
    return value


def data_dir():
    """The ``data/Animal Shape`` folder of the installed package (the package is not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the Animal-Shape benchmark needs the package {PACKAGE!r}: pip install animal-shape-mnist==0.39")
    for location in spec.submodule_search_locations:
        folder = Path(location) / "data" / FOLDER
        if (folder / DATA_FILE).is_file() and (folder / LABEL_FILE).is_file():
            return folder
    raise FileNotFoundError(f"no {FOLDER!r} data folder with {DATA_FILE} and {LABEL_FILE} in {PACKAGE}")


def load_raw():
    """All images ``(n, 28, 28)`` uint8 and labels ``(n,)`` int64, as shipped."""
    folder = data_dir()
    images, labels = load_array(folder / DATA_FILE), load_array(folder / LABEL_FILE)
    images = images.reshape(len(images), 28, 28)
    labels = labels.reshape(-1).astype("int64")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return images, labels


def deduplicate(images, labels):
    """Keep the first copy of every exact duplicate image; returns ``(images, labels, dropped)``."""
    flat = images.reshape(len(images), -1)
    _, first = np.unique(flat, axis=0, return_index=True)
    keep = np.sort(first)
    return images[keep], labels[keep], len(images) - len(keep)


def load(pool=2, n_val=N_VAL, n_test=N_TEST, random_state=0):
    """Deduplicated, stratified train / validation / test split, images ``(n, h, w, 1)`` float32
    in [0, 1] (``pool``x``pool`` average pooling first when ``pool > 1``), labels int64.

    Returns ``x_train, y_train, x_val, y_val, x_test, y_test``.
    """
    from sklearn.model_selection import train_test_split

    images, labels, _ = deduplicate(*load_raw())
    x = images.astype("float32") / 255.0
    if pool > 1:
        n, h, w = x.shape
        x = x[:, : h - h % pool, : w - w % pool]
        x = x.reshape(n, h // pool, pool, w // pool, pool).mean(axis=(2, 4))
    x = x[..., None]
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, labels, test_size=n_val + n_test, stratify=labels, random_state=random_state)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=n_test, stratify=y_rest, random_state=random_state)
    return x_train, y_train, x_val, y_val, x_test, y_test
