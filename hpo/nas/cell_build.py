"""Unrolling a PNAS cell into a network, and carrying a parent cell's weights to its child.

The network of a cell (:func:`unroll`), with ``F`` = the space's ``filters``:

- a stem: 3x3 conv with ``F`` filters, BatchNorm, ReLU;
- ``stages`` stages of ``cells_per_stage`` copies of the cell, every copy with its own
  weights. A copy reads the outputs of the ``lookback`` copies before it (the stem stands in
  for copies that do not exist yet). Each block applies its two ops (each maps ``F`` channels
  to ``F`` channels at the same resolution) and adds the results. The copy's output is the
  concatenation of *all* its blocks' outputs followed by a 1x1 conv back to ``F`` channels
  (a lone block goes straight into the 1x1 conv). Concatenating every block, read or not, is
  what PNASNet's released code does; it also makes every child cell contain its parent's
  function, which the warm start relies on;
- between stages a stride-2 reduction doubles ``F``: the last output goes through a 3x3 conv
  with stride 2, BatchNorm and ReLU, and each older output in the lookback window through its
  own 1x1 conv with stride 2, so every input a cell reads has the stage's resolution and width;
- global average pooling and a softmax dense layer.

Layers that no path to the output reads (a lookback output no block uses) are left out.

Ops are lists of architecture layers (:mod:`hpo.nas.arch`) made by a factory
``op(filters) -> [layer dicts without "id"/"inputs"]``; the empty list is the identity. The
built-in ops (:data:`BUILTIN_OPS`) put a ReLU before convolutions and BatchNorm after them:

>>> BUILTIN_OPS["sep_conv_3x3"](4)
[{'type': 'relu'}, {'type': 'sepconv', 'filters': 4, 'kernel': 3, 'stride': 1}, {'type': 'bn'}]
"""

from __future__ import annotations

import numpy as np

from .arch import Architecture, ArchitectureError
from .cells import CellError, canonical_order


class ConvOp:
    """A built-in convolution op: ReLU, a ``kind`` convolution with a square kernel, BatchNorm.
    (A class rather than a closure, so that spaces pickle with the standard library too.)"""

    def __init__(self, kind, kernel):
        self.kind, self.kernel = kind, kernel

    def __call__(self, filters):
        return [{"type": "relu"}, {"type": self.kind, "filters": filters, "kernel": self.kernel, "stride": 1},
                {"type": "bn"}]

    def __repr__(self):
        return f"ConvOp({self.kind!r}, {self.kernel})"


class PoolOp:
    """A built-in 3x3 pooling op with stride 1 (``mode`` is ``"max"`` or ``"avg"``)."""

    def __init__(self, mode):
        self.mode = mode

    def __call__(self, filters):
        return [{"type": "pool", "mode": self.mode, "size": 3, "stride": 1}]

    def __repr__(self):
        return f"PoolOp({self.mode!r})"


def _identity(filters):
    return []


BUILTIN_OPS = {
    "identity": _identity,
    "sep_conv_3x3": ConvOp("sepconv", 3),
    "sep_conv_5x5": ConvOp("sepconv", 5),
    "sep_conv_7x7": ConvOp("sepconv", 7),
    "conv_1x1": ConvOp("conv", 1),
    "conv_3x3": ConvOp("conv", 3),
    "max_pool_3x3": PoolOp("max"),
    "avg_pool_3x3": PoolOp("avg"),
}
# Layers an op may hold: one input, one output, no flattening.
OP_LAYER_TYPES = ("conv", "sepconv", "bn", "relu", "pool", "maxpool", "avgpool", "dropout")


def op_layers(name, factory, filters):
    """The layers ``factory(filters)`` makes, checked to be a list of single-input layers."""
    layers = factory(filters)
    if not isinstance(layers, (list, tuple)):
        raise CellError(f"op {name!r}: the factory must return a list of layer dicts, got {layers!r:.200}")
    out = []
    for k, layer in enumerate(layers):
        if not isinstance(layer, dict) or layer.get("type") not in OP_LAYER_TYPES:
            raise CellError(f"op {name!r}: layer {k} must be a dict with a type among {OP_LAYER_TYPES}, "
                            f"got {layer!r:.200}")
        if "id" in layer or "inputs" in layer:
            raise CellError(f"op {name!r}: layer {k} must not set 'id' or 'inputs' (the cell wires them)")
        out.append(dict(layer))
    return out


def check_op(name, factory, shape):
    """Raise CellError unless op ``name`` maps a tensor of ``shape`` (height, width, filters)
    to the same shape; returns the op's number of weights at that shape."""
    layers = [{"id": 0, "type": "input"}]
    for layer in op_layers(name, factory, shape[2]):
        layers.append({**layer, "id": len(layers), "inputs": [len(layers) - 1]})
    end = len(layers) - 1
    layers += [{"id": end + 1, "type": "gap", "inputs": [end]},
               {"id": end + 2, "type": "dense", "inputs": [end + 1], "units": 2, "activation": "softmax"}]
    try:
        probe = Architecture(shape, 2, layers)
        got = probe.shapes()[end]
    except ArchitectureError as e:
        raise CellError(f"op {name!r} does not build on inputs of shape {tuple(shape)}: {e}") from None
    if got != tuple(shape):
        raise CellError(
            f"op {name!r} maps inputs of shape {tuple(shape)} to {got}; a cell op must keep the "
            f"height, width and number of channels (filters={shape[2]}) so that its block can add "
            f"it to the other op's output")
    return probe.count_params() - probe.layer_params(end + 2)


class Unrolled:
    """An unrolled cell: ``arch`` and ``roles`` (``{role: layer id}``; roles name layers by
    their place in the network, e.g. ``("op", stage, copy, block, pair, k)``)."""

    def __init__(self, arch, roles):
        self.arch, self.roles = arch, roles


def stage_shapes(input_shape, stages, filters):
    """``[(height, width, filters)]`` of each stage (ceil-halved resolution, doubled filters)."""
    h, w = input_shape[:2]
    out = []
    for s in range(stages):
        out.append((h, w, filters * 2 ** s))
        h, w = -(-h // 2), -(-w // 2)
    return out


def unroll(cell):
    """The network of ``cell`` (see the module docstring) with the role of each layer."""
    prior = cell.prior
    layers, roles = [], {}

    def add(role, kind, inputs, **fields):
        lid = len(layers)
        layer = {"id": lid, "type": kind, **fields}
        if inputs is not None:
            layer["inputs"] = list(inputs)
        layers.append(layer)
        roles[role] = lid
        return lid

    add(("input",), "input", None)
    f = prior.filters
    x = add(("stem", 0), "conv", [0], filters=f, kernel=3, stride=1)
    x = add(("stem", 1), "bn", [x])
    x = add(("stem", 2), "relu", [x])
    window = [x] * prior.lookback  # window[k] is input -(k+1)
    names, factories = prior.op_names, prior.op_factories
    for s in range(prior.stages):
        f = prior.filters * 2 ** s
        if s:
            x = add(("reduce", s, 0), "conv", [window[0]], filters=f, kernel=3, stride=2)
            x = add(("reduce", s, 1), "bn", [x])
            x = add(("reduce", s, 2), "relu", [x])
            window = [x] + [add(("project", s, k), "conv", [window[k]], filters=f, kernel=1, stride=2)
                            for k in range(1, prior.lookback)]
        ops = {op: op_layers(names[op], factories[op], f) for op in range(len(names))}
        for c in range(prior.cells_per_stage):
            outs = []
            for b, pairs in enumerate(cell._coded):
                ends = []
                for p, (i, op) in enumerate(pairs):
                    y = window[-i - 1] if i < 0 else outs[i]
                    for k, layer in enumerate(ops[op]):
                        y = add(("op", s, c, b, p, k), layer["type"], [y],
                                **{key: v for key, v in layer.items() if key != "type"})
                    ends.append(y)
                outs.append(add(("add", s, c, b), "add", ends))
            joined = outs[0] if len(outs) == 1 else add(("concat", s, c), "concat", outs)
            out = add(("out", s, c), "conv", [joined], filters=f, kernel=1, stride=1)
            window = [out] + window[:-1]
    x = add(("gap",), "gap", [window[0]])
    add(("classifier",), "dense", [x], units=prior.num_classes, activation="softmax")
    layers, roles = _prune(layers, roles)
    try:
        arch = Architecture(prior.input_shape, prior.num_classes, layers)
        arch.shapes()
    except ArchitectureError as e:  # ops are checked when the space is made; this is a backstop
        raise CellError(f"cell {cell!r} does not unroll into a valid network: {e}") from None
    return Unrolled(arch, roles)


def _prune(layers, roles):
    """Drop layers no path to the output reads (e.g. a lookback output that no block uses)."""
    alive, stack = set(), [layers[-1]["id"]]
    while stack:
        lid = stack.pop()
        if lid not in alive:
            alive.add(lid)
            stack.extend(layers[lid].get("inputs", ()))
    kept = [layer for layer in layers if layer["id"] in alive]
    return kept, {role: lid for role, lid in roles.items() if lid in alive}


# -- warm start ---------------------------------------------------------------------------------

def block_mapping(parent, child):
    """How ``parent``'s blocks sit in ``child`` = parent plus one block.

    Returns ``(blocks, pairs, new)``: ``blocks[k]`` is the child block of parent block ``k``,
    ``pairs[k][p]`` the pair of that child block holding parent pair ``p``, ``new`` the added
    child block. Raises CellError when ``child`` is not ``parent`` plus one block.
    """
    coded = child._coded
    read = {i for pairs in coded for i, _ in pairs if i >= 0}
    if child.level == parent.level + 1:
        for r in range(len(coded)):
            if r in read:
                continue
            rest = [tuple((i if i < r else i - 1, op) if i >= 0 else (i, op) for i, op in coded[b])
                    for b in range(len(coded)) if b != r]
            canonical, order = canonical_order(rest)
            if canonical != parent._coded:
                continue
            to_child = [o if o < r else o + 1 for o in order]
            from_child = {cb: k for k, cb in enumerate(to_child)}
            pair_map = []
            for k, cb in enumerate(to_child):
                translated = [(i if i < 0 else from_child[i], op) for i, op in coded[cb]]
                first = translated.index(parent._coded[k][0])
                second = 1 - first if translated[1 - first] == parent._coded[k][1] else first
                pair_map.append((first, second))
            return to_child, pair_map, r
    raise CellError(f"{child!r} is not {parent!r} with one more block")


def inherit_weights(parent, parent_weights, child):
    """Weights for the child's network from the trained parent's (``{layer id: [arrays]}``).

    Every layer the two networks share gets the parent's weights. The 1x1 conv after each
    copy's concatenation gets the parent's kernel on the parent's blocks' channels and zeros
    on the new block's, so the child computes exactly the parent's function until training
    moves those zeros. Layers only the child has (the new block's ops, and layers that only
    feed it) are absent from the result: they keep their fresh initialization.
    """
    blocks, pairs, _ = block_mapping(parent, child)
    source, target = unroll(parent), unroll(child)
    out = {}
    for role, pid in source.roles.items():
        if pid not in parent_weights:
            continue
        if role[0] == "op":
            _, s, c, b, p, k = role
            role = ("op", s, c, blocks[b], pairs[b][p], k)
        cid = target.roles.get(role)
        if cid is None:
            continue
        if role[0] == "out":
            kernel, bias = parent_weights[pid]
            f = kernel.shape[-1]
            grown = np.zeros((1, 1, child.level * f, f), dtype=kernel.dtype)
            for k, cb in enumerate(blocks):
                grown[:, :, cb * f:(cb + 1) * f, :] = kernel[:, :, k * f:(k + 1) * f, :]
            out[cid] = [grown, np.array(bias)]
        else:
            out[cid] = [np.array(w) for w in parent_weights[pid]]
    return out
