"""Keras layers of the weight-sharing networks: cell ops as layers, batch-statistics norm.

The supernet and the DARTS network build each op of a cell space from the same layer dicts
the unrolled networks use (:func:`hpo.nas.cell_build.op_layers`), with one difference:
BatchNorm always normalizes with the statistics of the batch at hand (:class:`BatchStatNorm`).
A shared network sees each op only on the children that pick it, so moving averages kept per
op mix statistics of unrelated children and rank children at random; ENAS and DARTS use batch
statistics for the same reason.

>>> import numpy as np
>>> layer = BatchStatNorm()
>>> out = layer(np.arange(8, dtype="float32").reshape(2, 2, 2, 1))
>>> round(float(np.asarray(out).mean()), 5), round(float(np.asarray(out).std()), 2)
(0.0, 1.0)
"""

from __future__ import annotations

from ..arch import BN_EPSILON
from ..cell_build import op_layers

_SEED_STRIDE = 7919


def _keras():
    import keras

    return keras


def _batch_stat_norm_class():
    keras = _keras()

    class _BatchStatNorm(keras.layers.Layer):
        """BatchNorm without moving statistics: ``gamma * (x - mean) / std + beta`` over the
        batch and spatial axes of the batch given."""

        def build(self, input_shape):
            channels = input_shape[-1]
            self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

        def call(self, x):
            ops = keras.ops
            mean, var = ops.moments(x, axes=list(range(len(x.shape) - 1)))
            return (x - mean) * ops.rsqrt(var + BN_EPSILON) * self.gamma + self.beta

    return _BatchStatNorm


_CLASS = []


def BatchStatNorm(**kwargs):
    """A Keras layer normalizing with the batch's own statistics (see the module docstring)."""
    if not _CLASS:
        _CLASS.append(_batch_stat_norm_class())
    return _CLASS[0](**kwargs)


def seeded(name, seed):
    """A Keras initializer ``name`` with a seed of its own (no global random state)."""
    return getattr(_keras().initializers, name)(seed=int(seed) % (2**31 - 1))


def conv(filters, kernel, stride, seed, name):
    return _keras().layers.Conv2D(filters, kernel, strides=stride, padding="same",
                                  kernel_initializer=seeded("GlorotUniform", seed), name=name)


def layer_from_dict(layer, seed, name):
    """The Keras layer of one op layer dict (the types :data:`OP_LAYER_TYPES` allows)."""
    keras = _keras()
    kind = layer["type"]
    if kind == "conv":
        return conv(layer["filters"], layer["kernel"], layer["stride"], seed, name)
    if kind == "sepconv":
        return keras.layers.SeparableConv2D(
            layer["filters"], layer["kernel"], strides=layer["stride"], padding="same",
            depthwise_initializer=seeded("GlorotUniform", seed),
            pointwise_initializer=seeded("GlorotUniform", seed + _SEED_STRIDE // 2), name=name)
    if kind == "bn":
        return BatchStatNorm(name=name)
    if kind == "relu":
        return keras.layers.ReLU(name=name)
    if kind == "pool":
        cls = keras.layers.MaxPooling2D if layer["mode"] == "max" else keras.layers.AveragePooling2D
        return cls(layer["size"], strides=layer["stride"], padding="same", name=name)
    if kind in ("maxpool", "avgpool"):
        cls = keras.layers.MaxPooling2D if kind == "maxpool" else keras.layers.AveragePooling2D
        return cls(layer["pool"], strides=layer["pool"], padding="same", name=name)
    if kind == "dropout":
        return keras.layers.Dropout(layer["rate"], seed=int(seed) % (2**31 - 1), name=name)
    raise AssertionError(kind)  # op_layers admits only the types above


def op_stack(prior, op, filters, seed, name):
    """The layers of op number ``op`` of ``prior`` at ``filters`` channels, as a list."""
    layers = op_layers(prior.op_names[op], prior.op_factories[op], filters)
    return [layer_from_dict(layer, seed * _SEED_STRIDE + k, f"{name}_{k}") for k, layer in enumerate(layers)]


def apply(layers, x, training):
    """Run ``x`` through ``layers`` in order (dropout only when ``training``)."""
    for layer in layers:
        x = layer(x, training=training) if layer.__class__.__name__ == "Dropout" else layer(x)
    return x


def reduction(filters, lookback, seed, name):
    """The stride-2 reduction between stages, as in :func:`hpo.nas.cell_build.unroll`: a 3x3
    conv + norm + ReLU on the newest output, a 1x1 strided conv on each older one."""
    keras = _keras()
    main = [conv(filters, 3, 2, seed, f"{name}_conv"), BatchStatNorm(name=f"{name}_bn"),
            keras.layers.ReLU(name=f"{name}_relu")]
    projections = [conv(filters, 1, 2, seed + k, f"{name}_project{k}") for k in range(1, lookback)]
    return main, projections
