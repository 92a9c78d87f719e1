"""Architectures as values: a JSON-serializable DAG of layers with a canonical form and hash.

An :class:`Architecture` is a list of layers in topological order. Each layer is a dict with
an integer ``id``, a ``type`` and its hyperparameters; every layer but the input lists the ids
it reads in ``inputs``. The last layer is the output. Layer ids are *stable*: a morphism keeps
the ids of the parent's layers and gives new layers fresh ids, so a trained parent's weights
can be found by id in the child (``build_keras`` names the Keras layer of id ``i`` ``"n{i}"``).

Layer types and their fields:

=============  ====================================================================
``input``      (no fields; shape is the architecture's ``input_shape``)
``conv``       ``filters``, ``kernel``, ``stride`` (Conv2D, ``padding="same"``)
``bn``         BatchNormalization
``relu``       ReLU
``maxpool``    ``pool`` (MaxPooling2D, pool size = stride, ``padding="same"``)
``avgpool``    ``pool`` (AveragePooling2D, same convention)
``sepconv``    ``filters``, ``kernel``, ``stride`` (SeparableConv2D, depth multiplier 1,
               ``padding="same"``)
``pool``       ``mode`` (``"max"`` or ``"avg"``), ``size``, ``stride`` (pooling with its own
               stride, ``padding="same"``: ``size=3, stride=1`` keeps the shape)
``gap``        GlobalAveragePooling2D
``dropout``    ``rate``
``dense``      ``units``, ``activation`` (``"linear"`` or ``"softmax"``)
``add``        two or more inputs of equal shape
``concat``     two or more inputs with equal spatial shape, joined on channels
=============  ====================================================================

The *main path* is the chain found by following ``inputs[0]`` from the output back to the
input; the other inputs of ``add``/``concat`` layers are skip connections.

>>> a = Architecture.from_json(small_cnn((8, 8, 1), 10).to_json())
>>> a.shapes()[a.output_id]
(10,)
>>> a.hash == small_cnn((8, 8, 1), 10).hash
True
"""

from __future__ import annotations

import hashlib
import json

LAYER_FIELDS = {
    "input": (),
    "conv": ("filters", "kernel", "stride"),
    "bn": (),
    "relu": (),
    "maxpool": ("pool",),
    "avgpool": ("pool",),
    "sepconv": ("filters", "kernel", "stride"),
    "pool": ("mode", "size", "stride"),
    "gap": (),
    "dropout": ("rate",),
    "dense": ("units", "activation"),
    "add": (),
    "concat": (),
}
MERGE_TYPES = frozenset({"add", "concat"})
POOL_TYPES = frozenset({"maxpool", "avgpool"})
POOL_MODES = ("max", "avg")
# Layers that act on each channel separately: widening a layer upstream of them only needs
# their per-channel parameters (BatchNormalization's) to be replicated.
CHANNELWISE_TYPES = frozenset({"bn", "relu", "maxpool", "avgpool", "gap", "dropout"})
DENSE_ACTIVATIONS = ("linear", "softmax")
BN_EPSILON = 1e-3  # Keras' default; morphisms rely on it to make new BatchNorm layers exact


class ArchitectureError(ValueError):
    """An architecture value that is malformed, has inconsistent shapes or is too large."""


def _ceil_div(a, b):
    return -(-a // b)


class Architecture:
    """A neural network as a value: input shape, number of classes and a DAG of layers.

    Build one from JSON (:meth:`from_json`), from a starting point such as :func:`small_cnn`,
    or by morphisms (:mod:`hpo.nas.morphisms`). The object is treated as immutable: operations
    return new architectures.

    >>> a = small_cnn((8, 8, 1), 10)
    >>> a.count_params() > 0, len(a.main_path()) == len(a.layers)
    (True, True)
    """

    def __init__(self, input_shape, num_classes, layers):
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.layers = [dict(layer) for layer in layers]
        for layer in self.layers:
            if "inputs" in layer:
                layer["inputs"] = [int(i) for i in layer["inputs"]]
        self.by_id = {}
        self._check()
        self._shapes = None
        self._hash = None
        self._consumers = None

    # -- construction and serialization -------------------------------------------------------

    def _check(self):
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ArchitectureError(
                f"input_shape must be (height, width, channels) of positive ints, got {self.input_shape}"
            )
        if self.num_classes < 2:
            raise ArchitectureError(f"num_classes must be >= 2, got {self.num_classes}")
        if not self.layers or self.layers[0].get("type") != "input":
            raise ArchitectureError("the first layer must be the input layer")
        for position, layer in enumerate(self.layers):
            kind = layer.get("type")
            if kind not in LAYER_FIELDS:
                raise ArchitectureError(f"layer {layer!r}: unknown type {kind!r}")
            if not isinstance(layer.get("id"), int) or layer["id"] in self.by_id:
                raise ArchitectureError(f"layer {layer!r}: ids must be distinct ints")
            missing = [f for f in LAYER_FIELDS[kind] if f not in layer]
            if missing:
                raise ArchitectureError(f"layer {layer['id']} ({kind}) lacks fields {missing}")
            if kind == "pool" and layer["mode"] not in POOL_MODES:
                raise ArchitectureError(f"layer {layer['id']} (pool) has mode {layer['mode']!r}; "
                                        f"give one of {POOL_MODES}")
            inputs = layer.get("inputs", [])
            if kind == "input":
                if position != 0 or inputs:
                    raise ArchitectureError("only the first layer may be an input layer")
            else:
                unknown = [i for i in inputs if i not in self.by_id]
                if not inputs or unknown:
                    raise ArchitectureError(
                        f"layer {layer['id']} ({kind}) reads {inputs}; every input must be an "
                        f"earlier layer"
                    )
                if (kind in MERGE_TYPES) != (len(inputs) > 1):
                    raise ArchitectureError(
                        f"layer {layer['id']} ({kind}) has {len(inputs)} inputs; add/concat take "
                        f"two or more, other layers one"
                    )
            self.by_id[layer["id"]] = layer
        out = self.layers[-1]
        if out["type"] != "dense" or out["units"] != self.num_classes or out["activation"] != "softmax":
            raise ArchitectureError(
                f"the last layer must be dense with {self.num_classes} units and softmax, got {out}"
            )
        consumed = {i for layer in self.layers for i in layer.get("inputs", [])}
        dangling = [layer["id"] for layer in self.layers[:-1] if layer["id"] not in consumed]
        if dangling:
            raise ArchitectureError(f"layers {dangling} are not used by any other layer")

    def to_json(self):
        """A plain dict of JSON types (what trial documents store)."""
        layers = [dict(layer) for layer in self.layers]
        for layer in layers:
            if "inputs" in layer:
                layer["inputs"] = list(layer["inputs"])
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "layers": layers}

    @classmethod
    def from_json(cls, value):
        """Inverse of :meth:`to_json`; also accepts an Architecture or a JSON string."""
        if isinstance(value, Architecture):
            return value
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict) or not {"input_shape", "num_classes", "layers"} <= set(value):
            raise ArchitectureError(
                f"an architecture value is a dict with input_shape, num_classes and layers, got {value!r:.200}"
            )
        return cls(value["input_shape"], value["num_classes"], value["layers"])

    def __eq__(self, other):
        return isinstance(other, Architecture) and self.hash == other.hash

    def __hash__(self):
        return hash(self.hash)

    def __repr__(self):
        return f"Architecture({self.hash[:10]}, {len(self.layers)} layers, {self.count_params()} params)"

    # -- structure ------------------------------------------------------------------------------

    @property
    def output_id(self):
        return self.layers[-1]["id"]

    def next_id(self):
        return max(self.by_id) + 1

    def consumers(self, layer_id):
        """Ids of the layers that read ``layer_id``."""
        if self._consumers is None:
            self._consumers = {layer["id"]: [] for layer in self.layers}
            for layer in self.layers:
                for source in layer.get("inputs", ()):
                    self._consumers[source].append(layer["id"])
        return self._consumers[layer_id]

    def main_path(self):
        """Layer ids from the input to the output following each layer's first input."""
        path = [self.output_id]
        while self.by_id[path[-1]]["type"] != "input":
            path.append(self.by_id[path[-1]]["inputs"][0])
        return path[::-1]

    def skip_connections(self):
        """``(source position, merge position, merge type)`` on the main path, one per skip.

        The source is the main-path layer where the skip branch leaves (after walking back
        through the branch's own pooling/projection layers).
        """
        path = self.main_path()
        position = {lid: p for p, lid in enumerate(path)}
        skips = []
        for p, lid in enumerate(path):
            layer = self.by_id[lid]
            if layer["type"] not in MERGE_TYPES:
                continue
            for branch in layer["inputs"][1:]:
                while branch not in position:
                    branch = self.by_id[branch]["inputs"][0]
                skips.append((position[branch], p, layer["type"]))
        return skips

    def to_networkx(self):
        """A ``networkx.DiGraph``: nodes are layer ids with the layer's fields as attributes,
        edges go from each input to its reader with ``slot`` = the input's position."""
        import networkx as nx

        graph = nx.DiGraph(input_shape=self.input_shape, num_classes=self.num_classes)
        for layer in self.layers:
            graph.add_node(layer["id"], **{k: v for k, v in layer.items() if k not in ("id", "inputs")})
            for slot, source in enumerate(layer.get("inputs", ())):
                graph.add_edge(source, layer["id"], slot=slot)
        return graph

    # -- shapes and size ----------------------------------------------------------------------

    def shapes(self):
        """``{layer id: output shape without the batch axis}``; raises on inconsistent shapes."""
        if self._shapes is not None:
            return self._shapes
        shapes = {}
        for layer in self.layers:
            kind, lid = layer["type"], layer["id"]
            ins = [shapes[i] for i in layer.get("inputs", ())]
            first = ins[0] if ins else None
            if kind == "input":
                shape = self.input_shape
            elif kind in ("conv", "sepconv", "maxpool", "avgpool", "pool", "gap"):
                if len(first) != 3:
                    raise ArchitectureError(f"layer {lid} ({kind}) needs a 4-D input, got {first}")
                if kind == "gap":
                    shape = (first[2],)
                else:
                    step = layer["stride"] if kind in ("conv", "sepconv", "pool") else layer["pool"]
                    channels = layer["filters"] if kind in ("conv", "sepconv") else first[2]
                    shape = (_ceil_div(first[0], step), _ceil_div(first[1], step), channels)
            elif kind == "dense":
                if len(first) != 1:
                    raise ArchitectureError(
                        f"layer {lid} (dense) needs a flat input; put a gap layer before it, got {first}"
                    )
                shape = (layer["units"],)
            elif kind == "add":
                if any(s != first for s in ins):
                    raise ArchitectureError(f"layer {lid} (add) has inputs of shapes {ins}")
                shape = first
            elif kind == "concat":
                if any(len(s) != 3 or s[:2] != first[:2] for s in ins):
                    raise ArchitectureError(f"layer {lid} (concat) has inputs of shapes {ins}")
                shape = first[:2] + (sum(s[2] for s in ins),)
            else:  # bn, relu, dropout keep the shape
                shape = first
            if min(shape) < 1:
                raise ArchitectureError(f"layer {lid} ({kind}) has an empty output {shape}")
            shapes[lid] = tuple(int(v) for v in shape)
        self._shapes = shapes
        return shapes

    def layer_params(self, layer_id):
        """Number of weights of one layer as Keras counts them (BatchNorm's moving stats too)."""
        layer = self.by_id[layer_id]
        shapes = self.shapes()
        kind = layer["type"]
        if kind == "conv":
            cin = shapes[layer["inputs"][0]][2]
            return layer["kernel"] ** 2 * cin * layer["filters"] + layer["filters"]
        if kind == "sepconv":  # depthwise kernel, pointwise kernel, bias
            cin = shapes[layer["inputs"][0]][2]
            return layer["kernel"] ** 2 * cin + cin * layer["filters"] + layer["filters"]
        if kind == "dense":
            return shapes[layer["inputs"][0]][0] * layer["units"] + layer["units"]
        if kind == "bn":
            return 4 * shapes[layer_id][-1]
        return 0

    def count_params(self):
        """Total number of weights, equal to ``build_keras(self).count_params()``."""
        return sum(self.layer_params(layer["id"]) for layer in self.layers)

    def validate(self, max_params=None):
        """Check shapes and (optionally) size; returns ``self``, raises ArchitectureError."""
        self.shapes()
        if max_params is not None and self.count_params() > max_params:
            raise ArchitectureError(
                f"the architecture has {self.count_params()} parameters, more than "
                f"max_params={max_params}"
            )
        return self

    # -- identity -----------------------------------------------------------------------------

    def canonical(self):
        """The architecture with canonical layer ids (see :meth:`canonical_layers`)."""
        return Architecture(self.input_shape, self.num_classes, self.canonical_layers())

    def canonical_layers(self):
        """The layers with layer ids renumbered independently of how it was built.

        Two architectures describe the same network exactly when their canonical forms are
        equal. Ids are assigned in a depth-first post-order from the output; the inputs of an
        ``add`` (which is commutative) are visited in the order of their subgraphs' digests.
        """
        digest = {}
        for layer in self.layers:
            fields = {k: layer[k] for k in LAYER_FIELDS[layer["type"]]}
            ins = [digest[i] for i in layer.get("inputs", ())]
            if layer["type"] == "add":
                ins = sorted(ins)
            text = json.dumps([layer["type"], fields, ins], sort_keys=True)
            digest[layer["id"]] = hashlib.sha256(text.encode()).hexdigest()
        order, seen = [], set()

        def visit(lid):
            # An explicit stack rather than recursion: deep chains must not hit Python's limit.
            stack = [(lid, False)]
            while stack:
                node, expanded = stack.pop()
                if node in seen:
                    continue
                if expanded:
                    seen.add(node)
                    order.append(node)
                    continue
                stack.append((node, True))
                inputs = list(self.by_id[node].get("inputs", ()))
                if self.by_id[node]["type"] == "add":
                    inputs.sort(key=lambda i: digest[i])
                for i in reversed(inputs):
                    if i not in seen:
                        stack.append((i, False))

        visit(self.output_id)
        new_id = {old: new for new, old in enumerate(order)}
        layers = []
        for old in order:
            layer = {k: v for k, v in self.by_id[old].items() if k != "inputs"}
            layer["id"] = new_id[old]
            if "inputs" in self.by_id[old]:
                inputs = self.by_id[old]["inputs"]
                if layer["type"] == "add":
                    inputs = sorted(inputs, key=lambda i: digest[i])
                layer["inputs"] = [new_id[i] for i in inputs]
            layers.append(layer)
        return layers

    @property
    def hash(self):
        """A stable hex digest of the canonical form (equal networks, equal hashes)."""
        if self._hash is None:
            canon = [list(self.input_shape), self.num_classes, self.canonical_layers()]
            text = json.dumps(canon, sort_keys=True, separators=(",", ":"))
            self._hash = hashlib.sha256(text.encode()).hexdigest()[:32]
        return self._hash

    # -- editing helpers used by morphisms ----------------------------------------------------

    def with_layers(self, layers):
        return Architecture(self.input_shape, self.num_classes, layers)


def small_cnn(input_shape, num_classes, filters=(16, 32), dense_units=64, dropout=0.25):
    """A small default CNN to start a search from: conv-bn-relu blocks, pooling between
    blocks, global average pooling, one hidden dense layer and the softmax output.

    >>> small_cnn((8, 8, 1), 10).count_params()
    7754
    """
    layers = [{"id": 0, "type": "input"}]

    def add(kind, **fields):
        layer = {"id": len(layers), "type": kind, "inputs": [len(layers) - 1], **fields}
        layers.append(layer)

    for i, f in enumerate(filters):
        if i:
            add("maxpool", pool=2)
        add("conv", filters=int(f), kernel=3, stride=1)
        add("bn")
        add("relu")
    add("gap")
    if dense_units:
        add("dense", units=int(dense_units), activation="linear")
        add("relu")
    if dropout:
        add("dropout", rate=float(dropout))
    add("dense", units=int(num_classes), activation="softmax")
    return Architecture(input_shape, num_classes, layers)
