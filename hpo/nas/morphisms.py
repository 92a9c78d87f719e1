"""Function-preserving network morphisms: deepen, widen, add_skip, concat_skip.

Each morphism is described by a small JSON *operation* (``{"op": "widen", "layer": 4,
"width": 48, "seed": 7, "noise": 0.1}``) so that a child's document can record the chain of
operations that made it from its parent. :func:`apply_op` turns a parent architecture into the
child; :func:`transform_weights` turns the parent's trained weights (``{layer id: [arrays]}``)
into weights for the child such that, in inference mode, the child computes the same function
as the parent:

* **deepen** inserts, after a layer whose output is non-negative (it went through a ReLU), a
  conv-BatchNorm-ReLU block (or a dense-ReLU block on flat tensors) initialized to the
  identity: the conv kernel is a centered identity, the BatchNorm has gamma 1, beta 0, moving
  mean 0 and moving variance ``1 - epsilon`` so that it divides by exactly 1, and ReLU of a
  non-negative tensor is the tensor itself.
* **widen** gives a conv or dense layer more units by Net2Wider's replicate-and-divide: new
  units copy the incoming weights of randomly chosen existing units, and each copied unit's
  outgoing weights are split among its copies by fractions that sum to one (``noise`` > 0
  makes the fractions unequal, which breaks the copies' symmetry during training while still
  preserving the function exactly). BatchNorm parameters on the way are replicated.
* **add_skip** adds ``dst + proj(pool(src))`` with a zero-initialized 1x1 projection.
* **concat_skip** concatenates ``[dst, pool(src)]`` and follows with a 1x1 conv initialized
  to pass ``dst``'s channels through and ignore the skip's.

Pooling on the skip path (max pooling with pool size = stride) is inserted when ``src`` has
a larger spatial size than ``dst``.

>>> import numpy as np
>>> from hpo.nas.arch import small_cnn
>>> parent = small_cnn((8, 8, 1), 10)
>>> child, weight_fn = widen(parent, layer=1, width=24, seed=0)
>>> child.by_id[1]["filters"]
24
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .arch import BN_EPSILON, CHANNELWISE_TYPES, Architecture

OPERATIONS = ("deepen", "widen", "add_skip", "concat_skip")
# Layer types that may end a block and so be the ends of a skip connection.
_SKIP_ENDS = frozenset({"relu", "maxpool", "avgpool"})
_WIDEN_FACTORS = (1.5, 2.0)
_DEEPEN_KERNELS = (3, 5)


class MorphismError(ValueError):
    """An operation that does not apply to the given architecture."""


# -- analysis -----------------------------------------------------------------------------------


def nonnegative_layers(arch):
    """Ids of layers whose output is non-negative for every input (after a ReLU)."""
    nonneg = {}
    for layer in arch.layers:
        kind, inputs = layer["type"], layer.get("inputs", ())
        if kind == "relu":
            nonneg[layer["id"]] = True
        elif kind in ("maxpool", "avgpool", "gap", "dropout"):
            nonneg[layer["id"]] = nonneg[inputs[0]]
        elif kind in ("add", "concat"):
            nonneg[layer["id"]] = all(nonneg[i] for i in inputs)
        else:
            nonneg[layer["id"]] = False
    return {lid for lid, ok in nonneg.items() if ok}


def widen_flow(arch, layer_id):
    """``(bn ids, consumer ids)`` reached by ``layer_id``'s channels, or None if it cannot be
    widened (the channels reach an add/concat, or nothing consumes them)."""
    bns, terminals, stack, seen = [], [], [layer_id], set()
    while stack:
        current = stack.pop()
        for consumer in arch.consumers(current):
            if consumer in seen:
                continue
            seen.add(consumer)
            kind = arch.by_id[consumer]["type"]
            if kind in CHANNELWISE_TYPES:
                if kind == "bn":
                    bns.append(consumer)
                stack.append(consumer)
            elif kind in ("conv", "dense"):
                terminals.append(consumer)
            else:
                # Widening one input of an add/concat would need matching changes on the
                # other branch; the operation is simply not offered there.
                return None
    return (bns, terminals) if terminals else None


def _skip_stride(arch, src, dst):
    shapes = arch.shapes()
    (hs, ws, _), (hd, wd, _) = shapes[src], shapes[dst]
    for stride in range(1, max(hs, ws) + 1):
        if -(-hs // stride) == hd and -(-ws // stride) == wd:
            return stride
    return None


def candidates(arch):
    """``{operation: [partial op dicts]}`` of the operations that apply to ``arch``.

    Widths, kernels and seeds are left out; :func:`random_op` fills them in.
    """
    shapes = arch.shapes()
    path = arch.main_path()
    nonneg = nonnegative_layers(arch)
    out = {name: [] for name in OPERATIONS}
    for lid in path[:-1]:
        kind = arch.by_id[lid]["type"]
        if lid in nonneg:
            out["deepen"].append({"op": "deepen", "after": lid})
        if kind in ("conv", "dense") and widen_flow(arch, lid) is not None:
            out["widen"].append({"op": "widen", "layer": lid})
    ends = [lid for lid in path if arch.by_id[lid]["type"] in _SKIP_ENDS and len(shapes[lid]) == 3]
    for i, src in enumerate(ends):
        for dst in ends[i + 1:]:
            if path.index(dst) - path.index(src) < 2 or _skip_stride(arch, src, dst) is None:
                continue
            out["add_skip"].append({"op": "add_skip", "src": src, "dst": dst})
            out["concat_skip"].append({"op": "concat_skip", "src": src, "dst": dst})
    return out


# -- architecture edits -------------------------------------------------------------------------


def _insert_after(arch, anchor, new_layers, rewire_to):
    """Insert ``new_layers`` right after ``anchor`` in the layer list and make every former
    reader of ``anchor`` (other than the new layers) read ``rewire_to`` instead."""
    new_ids = {layer["id"] for layer in new_layers}
    layers = []
    for layer in arch.layers:
        layer = dict(layer)
        if "inputs" in layer and layer["id"] not in new_ids:
            layer["inputs"] = [rewire_to if i == anchor else i for i in layer["inputs"]]
        layers.append(layer)
        if layer["id"] == anchor:
            layers.extend(new_layers)
    return arch.with_layers(layers)


def _skip_layers(arch, src, dst, start):
    """Layers carrying ``src`` to ``dst``'s spatial size; returns (layers, branch id)."""
    stride = _skip_stride(arch, src, dst)
    if stride is None:
        raise MorphismError(f"no pooling maps layer {src}'s output onto layer {dst}'s size")
    if stride == 1:
        return [], src
    pool = {"id": start, "type": "maxpool", "inputs": [src], "pool": stride}
    return [pool], start


def _check_skip(arch, op):
    path = arch.main_path()
    src, dst = op["src"], op["dst"]
    if src not in path or dst not in path or path.index(dst) - path.index(src) < 2:
        raise MorphismError(f"{op}: src must come at least two layers before dst on the main path")
    if len(arch.shapes()[src]) != 3 or len(arch.shapes()[dst]) != 3:
        raise MorphismError(f"{op}: skip connections join 4-D (image) tensors")


def apply_op(arch, op):
    """The child architecture made by one operation (see the module docstring).

    >>> from hpo.nas.arch import small_cnn
    >>> len(apply_op(small_cnn((8, 8, 1), 10), {"op": "deepen", "after": 3}).layers)
    16
    """
    arch = Architecture.from_json(arch)
    name = op.get("op")
    nid = arch.next_id()
    shapes = arch.shapes()
    if name == "deepen":
        after = op["after"]
        if after not in nonnegative_layers(arch) or after == arch.output_id:
            raise MorphismError(f"{op}: deepen needs a layer with non-negative output (after a ReLU)")
        if len(shapes[after]) == 3:
            kernel = int(op.get("kernel", 3))
            if kernel % 2 == 0:
                raise MorphismError(f"{op}: an identity conv needs an odd kernel")
            new = [
                {"id": nid, "type": "conv", "inputs": [after], "filters": shapes[after][2],
                 "kernel": kernel, "stride": 1},
                {"id": nid + 1, "type": "bn", "inputs": [nid]},
                {"id": nid + 2, "type": "relu", "inputs": [nid + 1]},
            ]
        else:
            new = [
                {"id": nid, "type": "dense", "inputs": [after], "units": shapes[after][0],
                 "activation": "linear"},
                {"id": nid + 1, "type": "relu", "inputs": [nid]},
            ]
        return _insert_after(arch, after, new, new[-1]["id"])
    if name == "widen":
        lid, width = op["layer"], int(op["width"])
        layer = arch.by_id.get(lid)
        if layer is None or layer["type"] not in ("conv", "dense") or lid == arch.output_id:
            raise MorphismError(f"{op}: widen applies to a hidden conv or dense layer")
        key = "filters" if layer["type"] == "conv" else "units"
        if width <= layer[key]:
            raise MorphismError(f"{op}: width must exceed the current {layer[key]}")
        if widen_flow(arch, lid) is None:
            raise MorphismError(f"{op}: layer {lid}'s channels reach an add/concat")
        layers = [dict(x, **{key: width}) if x["id"] == lid else x for x in arch.layers]
        return arch.with_layers(layers)
    if name in ("add_skip", "concat_skip"):
        _check_skip(arch, op)
        src, dst = op["src"], op["dst"]
        branch_layers, branch = _skip_layers(arch, src, dst, nid)
        nid += len(branch_layers)
        channels = shapes[dst][2]
        if name == "add_skip":
            new = branch_layers + [
                {"id": nid, "type": "conv", "inputs": [branch], "filters": channels, "kernel": 1, "stride": 1},
                {"id": nid + 1, "type": "add", "inputs": [dst, nid]},
            ]
        else:
            new = branch_layers + [
                {"id": nid, "type": "concat", "inputs": [dst, branch]},
                {"id": nid + 1, "type": "conv", "inputs": [nid], "filters": channels, "kernel": 1, "stride": 1},
            ]
        return _insert_after(arch, dst, new, new[-1]["id"])
    raise MorphismError(f"unknown operation {op!r}; expected one of {OPERATIONS}")


# -- weights ------------------------------------------------------------------------------------


def _widen_weights(parent, weights, op):
    lid = op["layer"]
    layer = parent.by_id[lid]
    old = layer["filters"] if layer["type"] == "conv" else layer["units"]
    width = int(op["width"])
    rng = np.random.default_rng(int(op.get("seed", 0)))
    mapping = np.concatenate([np.arange(old), rng.integers(0, old, size=width - old)])
    counts = np.bincount(mapping, minlength=old)
    fractions = 1.0 / counts[mapping]
    noise = float(op.get("noise", 0.0))
    if noise > 0:
        fractions = fractions * np.abs(1.0 + noise * rng.standard_normal(width))
        # Renormalize so each original unit's copies still share its outgoing weight exactly.
        fractions = fractions / np.bincount(mapping, weights=fractions, minlength=old)[mapping]
    kernel, bias = weights[lid]
    weights[lid] = [kernel[..., mapping], bias[mapping]]
    bns, terminals = widen_flow(parent, lid)
    for bn in bns:
        weights[bn] = [w[mapping] for w in weights[bn]]
    for t in terminals:
        kernel, bias = weights[t]
        if parent.by_id[t]["type"] == "conv":
            kernel = kernel[:, :, mapping, :] * fractions[None, None, :, None].astype(kernel.dtype)
        else:
            kernel = kernel[mapping, :] * fractions[:, None].astype(kernel.dtype)
        weights[t] = [kernel, bias]
    return weights


def transform_weights(parent, weights, op):
    """The child's weights (``{layer id: [arrays]}``) for one operation on ``parent``.

    The parent's dict is not modified; unchanged layers share their arrays.
    """
    parent = Architecture.from_json(parent)
    child = apply_op(parent, op)
    weights = dict(weights)
    name = op["op"]
    if name == "widen":
        return _widen_weights(parent, weights, op)
    new_ids = [layer["id"] for layer in child.layers if layer["id"] not in parent.by_id]
    shapes = child.shapes()
    for lid in new_ids:
        layer = child.by_id[lid]
        cin = shapes[layer["inputs"][0]][-1]
        if layer["type"] == "conv":
            k, f = layer["kernel"], layer["filters"]
            kernel = np.zeros((k, k, cin, f), dtype=np.float32)
            if name == "deepen":
                kernel[k // 2, k // 2] = np.eye(cin, f, dtype=np.float32)
            elif name == "concat_skip":
                kernel[0, 0, :f, :] = np.eye(f, dtype=np.float32)
            # add_skip: the projection stays zero, so the sum equals the main path.
            weights[lid] = [kernel, np.zeros(f, dtype=np.float32)]
        elif layer["type"] == "bn":
            c = shapes[lid][-1]
            weights[lid] = [np.ones(c, np.float32), np.zeros(c, np.float32),
                            np.zeros(c, np.float32), np.full(c, 1.0 - BN_EPSILON, np.float32)]
        elif layer["type"] == "dense":
            weights[lid] = [np.eye(cin, layer["units"], dtype=np.float32),
                            np.zeros(layer["units"], np.float32)]
    return weights


def apply_chain(arch, ops):
    """Apply operations in order; returns the final architecture."""
    arch = Architecture.from_json(arch)
    for op in ops:
        arch = apply_op(arch, op)
    return arch


def chain_weights(arch, weights, ops):
    """Carry ``weights`` of ``arch`` through ``ops``; returns ``(child, child weights)``."""
    arch = Architecture.from_json(arch)
    for op in ops:
        weights = transform_weights(arch, weights, op)
        arch = apply_op(arch, op)
    return arch, weights


# -- the four morphisms as functions ----------------------------------------------------------


def _morph(arch, op):
    arch = Architecture.from_json(arch)
    return apply_op(arch, op), partial(transform_weights, arch, op=op)


def deepen(arch, after, kernel=3):
    """Insert an identity-initialized block after layer ``after``.

    Returns ``(child, weight_fn)``; ``weight_fn(parent_weights)`` gives the child's weights.

    >>> from hpo.nas.arch import small_cnn
    >>> child, fn = deepen(small_cnn((8, 8, 1), 10), after=3)
    >>> [l["type"] for l in child.layers[4:7]]
    ['conv', 'bn', 'relu']
    """
    return _morph(arch, {"op": "deepen", "after": int(after), "kernel": int(kernel)})


def widen(arch, layer, width, seed=0, noise=0.0):
    """Give conv/dense layer ``layer`` ``width`` units by replicate-and-divide.

    ``noise`` (e.g. 0.1) makes the split of outgoing weights among copies unequal, still
    preserving the function. Returns ``(child, weight_fn)``.
    """
    return _morph(arch, {"op": "widen", "layer": int(layer), "width": int(width),
                         "seed": int(seed), "noise": float(noise)})


def add_skip(arch, src, dst):
    """Add ``dst + proj(src)`` with a zero-initialized 1x1 projection; ``(child, weight_fn)``."""
    return _morph(arch, {"op": "add_skip", "src": int(src), "dst": int(dst)})


def concat_skip(arch, src, dst):
    """Concatenate ``[dst, src]`` then an identity-initialized 1x1 conv; ``(child, weight_fn)``."""
    return _morph(arch, {"op": "concat_skip", "src": int(src), "dst": int(dst)})


# -- random operations --------------------------------------------------------------------------


def _complete(arch, op, rng, noise):
    op = dict(op)
    if op["op"] == "deepen" and len(arch.shapes()[op["after"]]) == 3:
        op["kernel"] = int(rng.choice(_DEEPEN_KERNELS))
    elif op["op"] == "widen":
        layer = arch.by_id[op["layer"]]
        old = layer["filters"] if layer["type"] == "conv" else layer["units"]
        op["width"] = max(old + 1, int(round(old * float(rng.choice(_WIDEN_FACTORS)))))
        op["seed"] = int(rng.integers(2**31 - 1))
        op["noise"] = float(noise)
    return op


def random_op(arch, rng, max_params=None, noise=0.1, operations=OPERATIONS, tries=8):
    """A random applicable operation whose child stays within ``max_params``, or None.

    Returns ``(op, child)``. The kind of operation is drawn uniformly among the kinds that
    apply, then its target uniformly.
    """
    arch = Architecture.from_json(arch)
    options = candidates(arch)
    kinds = [k for k in operations if options.get(k)]
    for _ in range(tries):
        if not kinds:
            return None
        kind = kinds[int(rng.integers(len(kinds)))]
        op = _complete(arch, options[kind][int(rng.integers(len(options[kind])))], rng, noise)
        child = apply_op(arch, op)
        if max_params is None or child.count_params() <= max_params:
            return op, child
    return None


def random_chain(arch, rng, length, max_params=None, noise=0.1):
    """Up to ``length`` random operations from ``arch``; returns ``(ops, child)``."""
    arch = Architecture.from_json(arch)
    ops = []
    for _ in range(length):
        step = random_op(arch, rng, max_params=max_params, noise=noise)
        if step is None:
            break
        ops.append(step[0])
        arch = step[1]
    return ops, arch
