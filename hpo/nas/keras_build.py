"""Building Keras models from architecture values, and moving weights by layer id.

The Keras layer built for the architecture layer of id ``i`` is named ``"n{i}"``, so weights
can be read from and written to a model by id (:func:`get_weights`, :func:`set_weights`) and
serialized on their own (:func:`weights_to_bytes`), independently of Keras' own file format.

>>> from hpo.nas.arch import small_cnn
>>> arch = small_cnn((8, 8, 1), 10)
>>> model = build_keras(arch)
>>> model.count_params() == arch.count_params()
True
"""

from __future__ import annotations

import io

import numpy as np

from .arch import BN_EPSILON, Architecture

# Distinct per-layer seeds for initializers and dropout, derived from one model seed, so that
# building never touches Keras' global random state.
_SEED_STRIDE = 7919
# BatchNormalization's moving statistics follow the batch statistics with this momentum.
# Keras' default (0.99) needs several hundred steps before inference-mode outputs are
# meaningful, more than a search's short trainings give; 0.9 settles within tens of steps.
BN_MOMENTUM = 0.9
# Architecture layer types whose Keras layers hold weights.
WEIGHTED_TYPES = ("conv", "sepconv", "dense", "bn")


def layer_name(layer_id):
    return f"n{layer_id}"


def _seeded(keras, name, seed):
    return getattr(keras.initializers, name)(seed=int(seed) % (2**31 - 1))


def build_keras(arch, seed=0, logits=False):
    """A ``keras.Model`` (functional API) for ``arch``.

    ``seed`` makes weight initialization and dropout masks reproducible without touching
    global random state. ``logits=True`` leaves the softmax off the output layer (useful to
    compare networks before the softmax squashes differences).

    >>> from hpo.nas.arch import small_cnn
    >>> build_keras(small_cnn((8, 8, 1), 10)).output_shape
    (None, 10)
    """
    import keras

    arch = Architecture.from_json(arch)
    arch.shapes()  # fail on inconsistent shapes with the architecture's own message
    tensors = {}
    for layer in arch.layers:
        lid, kind = layer["id"], layer["type"]
        name = layer_name(lid)
        lseed = seed * _SEED_STRIDE + lid
        if kind == "input":
            tensors[lid] = keras.Input(shape=arch.input_shape, name=name)
            continue
        if kind == "conv":
            op = keras.layers.Conv2D(
                layer["filters"], layer["kernel"], strides=layer["stride"], padding="same",
                kernel_initializer=_seeded(keras, "GlorotUniform", lseed), name=name,
            )
        elif kind == "sepconv":
            op = keras.layers.SeparableConv2D(
                layer["filters"], layer["kernel"], strides=layer["stride"], padding="same",
                depthwise_initializer=_seeded(keras, "GlorotUniform", lseed),
                pointwise_initializer=_seeded(keras, "GlorotUniform", lseed + _SEED_STRIDE // 2),
                name=name,
            )
        elif kind == "pool":
            pool_class = keras.layers.MaxPooling2D if layer["mode"] == "max" else keras.layers.AveragePooling2D
            op = pool_class(layer["size"], strides=layer["stride"], padding="same", name=name)
        elif kind == "bn":
            op = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)
        elif kind == "relu":
            op = keras.layers.ReLU(name=name)
        elif kind == "maxpool":
            op = keras.layers.MaxPooling2D(layer["pool"], strides=layer["pool"], padding="same", name=name)
        elif kind == "avgpool":
            op = keras.layers.AveragePooling2D(layer["pool"], strides=layer["pool"], padding="same", name=name)
        elif kind == "gap":
            op = keras.layers.GlobalAveragePooling2D(name=name)
        elif kind == "dropout":
            op = keras.layers.Dropout(layer["rate"], seed=int(lseed) % (2**31 - 1), name=name)
        elif kind == "dense":
            activation = layer["activation"]
            if logits and lid == arch.output_id:
                activation = "linear"
            op = keras.layers.Dense(
                layer["units"], activation=activation,
                kernel_initializer=_seeded(keras, "GlorotUniform", lseed), name=name,
            )
        elif kind == "add":
            op = keras.layers.Add(name=name)
        elif kind == "concat":
            op = keras.layers.Concatenate(axis=-1, name=name)
        else:  # Architecture validates types, so this is a programming error
            raise AssertionError(kind)
        ins = [tensors[i] for i in layer["inputs"]]
        tensors[lid] = op(ins if kind in ("add", "concat") else ins[0])
    return keras.Model(tensors[arch.layers[0]["id"]], tensors[arch.output_id], name=f"arch_{arch.hash[:12]}")


def get_weights(model, arch):
    """``{layer id: [numpy arrays]}`` for the layers of ``arch`` that have weights."""
    arch = Architecture.from_json(arch)
    out = {}
    for layer in arch.layers:
        if layer["type"] in WEIGHTED_TYPES:
            out[layer["id"]] = [np.array(w) for w in model.get_layer(layer_name(layer["id"])).get_weights()]
    return out


def set_weights(model, arch, weights):
    """Load ``{layer id: [arrays]}`` into ``model``; every weighted layer must be present."""
    arch = Architecture.from_json(arch)
    for layer in arch.layers:
        if layer["type"] not in WEIGHTED_TYPES:
            continue
        if layer["id"] not in weights:
            raise KeyError(f"no weights for layer {layer['id']} ({layer['type']})")
        model.get_layer(layer_name(layer["id"])).set_weights(weights[layer["id"]])


def weights_to_bytes(weights):
    """Serialize ``{layer id: [arrays]}`` as an ``.npz`` byte string (no pickle).

    >>> w = {3: [np.ones((2, 2)), np.zeros(2)]}
    >>> weights_from_bytes(weights_to_bytes(w))[3][0].shape
    (2, 2)
    """
    buffer = io.BytesIO()
    arrays = {f"{lid}/{i}": np.asarray(a) for lid, ws in weights.items() for i, a in enumerate(ws)}
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def weights_from_bytes(data):
    """Inverse of :func:`weights_to_bytes`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        items = {}
        for key in npz.files:
            lid, index = key.split("/")
            items.setdefault(int(lid), {})[int(index)] = npz[key]
    return {lid: [parts[i] for i in range(len(parts))] for lid, parts in items.items()}
