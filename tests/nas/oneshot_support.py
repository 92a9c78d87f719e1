"""Shared pieces of the one-shot NAS tests: tiny digits data and a tiny cell space."""

from __future__ import annotations

import numpy as np

from hpo.nas import space

OPS = ["identity", "conv_3x3", "max_pool_3x3"]


def tiny_cells(blocks=2, label="cell", filters=4):
    """A cell space small enough to trace and train in seconds on 8x8 digits."""
    return space.cells(label, (8, 8, 1), 10, blocks=blocks, ops=OPS, filters=filters)


def digits():
    """``(x_train, y_train, x_val, y_val, x_test, y_test)`` from load_digits, pixels in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0)[..., None].astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], d.target[order]
    return x[:1000], y[:1000], x[1000:1400], y[1000:1400], x[1400:], y[1400:]
