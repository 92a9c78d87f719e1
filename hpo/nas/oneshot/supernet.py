"""The weight-sharing supernet over a cell space: one Keras layer stack per (cell position,
block, slot, op); a child cell is a path through it.

The network has the shape of every child's unrolled network (:mod:`hpo.nas.cell_build`): a
stem, ``stages`` stages of ``cells_per_stage`` cell positions with a stride-2 reduction between
stages, global average pooling and a dense classifier. At each position, block ``b`` has two
slots; slot ``p`` holds one layer stack per op of the space. A child picks, per block and
slot, an input (a previous cell or an earlier block) and an op: its *path*, an int array of
shape ``(blocks, 2, 2)`` (:meth:`Supernet.path`). The same cell is used at every position,
each position with its own weights, as in the unrolled networks.

The path is a tensor input of one compiled train step and one compiled evaluation step
(``keras.ops.switch`` picks the op, ``keras.ops.take`` the input), so the graph is traced once
and never rebuilt per child; only the chosen op of each slot runs. Training a child updates
only the weights on its path: the step's Adam moments, step counts and weights of the ops a
child does not use are masked out, so another child's op keeps exactly its weights (plain
Adam would keep moving them on stale momentum). The stem, the reductions, each position's
output 1x1 conv and the classifier are on every path.

All normalization uses batch statistics (:class:`~hpo.nas.oneshot.layers.BatchStatNorm`), in
training and in evaluation: children scored with shared moving averages rank at random.

The gradients come from the TensorFlow backend's ``GradientTape`` (Keras 3 has no
backend-independent gradient call); everything else is Keras 3 (``keras.ops``, layers).

>>> import numpy as np
>>> from hpo.nas import space
>>> from hpo.nas.oneshot import Supernet
>>> net = Supernet(space.cells("cell", (8, 8, 1), 10, blocks=2, ops=["identity", "conv_3x3"], filters=4))
>>> cell = net.prior.decode([(-1, "conv_3x3", -2, "identity"), (0, "identity", -1, "conv_3x3")])
>>> cell.blocks  # canonical: the pair reading -2 comes first
((-2, 'identity', -1, 'conv_3x3'), (-1, 'conv_3x3', 0, 'identity'))
>>> net.path(cell).tolist()  # [block][slot] = (input: 0 is -1, 1 is -2, 2 is block 0; op index)
[[[1, 0], [0, 1]], [[0, 1], [2, 0]]]
"""

from __future__ import annotations

import functools
import io
import json

import numpy as np

from ..cell_space import CellPrior
from ..cells import CellError
from . import layers as L

_STATE_VERSION = 1
_BETA1, _BETA2, _EPSILON = 0.9, 0.999, 1e-7


def cell_prior(space_or_prior, label=None):
    """The :class:`~hpo.nas.cell_space.CellPrior` of a ``nas.space.cells`` parameter, a space
    holding one, or a prior itself."""
    if isinstance(space_or_prior, CellPrior):
        return space_or_prior
    from ...spaces import compile_space
    from ._space import find_cell_param

    return find_cell_param(compile_space(space_or_prior), label).prior


def _require_tensorflow():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"the supernet trains with the TensorFlow backend; Keras runs on "
                           f"{keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow)")


class Supernet:
    """The shared network of every cell with ``blocks`` blocks of a cell space.

    ``space`` is a ``nas.space.cells`` parameter, a space holding one (``label`` picks it) or
    its :class:`~hpo.nas.cell_space.CellPrior`; children have exactly ``blocks`` blocks, the
    space's ``blocks`` (PNAS's B). ``seed`` fixes the initial weights. See the module
    docstring for what is shared and how a child trains.
    """

    def __init__(self, space, label=None, seed=0):
        _require_tensorflow()
        import keras

        self.prior = prior = cell_prior(space, label)
        self.blocks, self.lookback = prior.max_blocks, prior.lookback
        self.n_ops = len(prior.op_names)
        self.seed = int(seed)
        self.steps = 0
        seeds = iter(range(self.seed * 100_003, self.seed * 100_003 + 10**6))
        f = prior.filters
        self.stem = [L.conv(f, 3, 1, next(seeds), "stem_conv"), L.BatchStatNorm(name="stem_bn"),
                     keras.layers.ReLU(name="stem_relu")]
        self.reductions, self.ops, self.out_convs = {}, {}, []
        self._var_keys = []  # per variable: None (on every path) or (block, slot, op)
        shared = list(self.stem)
        pos = 0
        for s in range(prior.stages):
            f = prior.filters * 2 ** s
            if s:
                main, projections = L.reduction(f, self.lookback, next(seeds), f"reduce{s}")
                self.reductions[s] = (main, projections)
                shared += main + projections
            for _ in range(prior.cells_per_stage):
                for b in range(self.blocks):
                    for p in range(2):
                        for o in range(self.n_ops):
                            self.ops[pos, b, p, o] = L.op_stack(prior, o, f, next(seeds),
                                                                f"p{pos}_b{b}_s{p}_op{o}")
                conv = L.conv(f, 1, 1, next(seeds), f"p{pos}_out")
                self.out_convs.append(conv)
                shared.append(conv)
                pos += 1
        self.positions = pos
        self.classifier = keras.layers.Dense(prior.num_classes, name="classifier",
                                             kernel_initializer=L.seeded("GlorotUniform", next(seeds)))
        shared.append(self.classifier)
        self._build()
        self.variables = []
        for layer in shared:
            self.variables += layer.trainable_variables
        self._var_keys = [None] * len(self.variables)
        for (_, b, p, o), stack in self.ops.items():
            for layer in stack:
                for v in layer.trainable_variables:
                    self.variables.append(v)
                    self._var_keys.append((b, p, o))
        self._init_optimizer_state()
        self._compile()

    # -- building ---------------------------------------------------------------------------------

    def _init_optimizer_state(self):
        """Adam's moments as two flat vectors over all weights and its step counts per group
        of weights that train together (group 0: on every path; then one per (block, slot,
        op)). One elementwise update of the flat vectors per step replaces ~15 small ops per
        weight tensor, which made most of the step's graph: it cost a third of every step
        and most of the first call's tracing and graph optimization."""
        import keras

        zeros = functools.partial(keras.Variable, trainable=False)
        self._sizes = [int(np.prod(v.shape)) for v in self.variables]
        groups = sorted({k for k in self._var_keys if k is not None})
        self._group_keys = [None] + groups
        index = {k: g for g, k in enumerate(self._group_keys)}
        self._var_group = np.array([index[k] for k in self._var_keys], np.int32)
        # For group g >= 1: which slot (block * 2 + slot) it belongs to and which op it is.
        self._group_slot = np.array([b * 2 + p for b, p, _ in groups], np.int32)
        self._group_op = np.array([o for _, _, o in groups], np.int32)
        self._element_group = np.repeat(self._var_group, self._sizes)
        total = int(sum(self._sizes))
        self._m = zeros(np.zeros(total, "float32"))
        self._s = zeros(np.zeros(total, "float32"))
        self._t = zeros(np.zeros(len(self._group_keys), "float32"))

    def _build(self):
        """Create every layer's weights now (an op a child never picks still has its weights,
        and the compiled steps must not create variables)."""
        prior = self.prior
        h, w, c = prior.input_shape
        x = np.zeros((2, h, w, c), "float32")
        x = L.apply(self.stem, x, False)
        pos = 0
        for s in range(prior.stages):
            if s:
                main, projections = self.reductions[s]
                small = L.apply(main, x, False)
                for proj in projections:
                    proj(x)
                x = small
            for _ in range(prior.cells_per_stage):
                for (q, _, _, _), stack in self.ops.items():
                    if q == pos:
                        L.apply(stack, x, False)
                self.out_convs[pos](np.concatenate([np.asarray(x)] * self.blocks, axis=-1))
                pos += 1
        self.classifier(np.zeros((2, x.shape[-1]), "float32"))

    def _forward(self, x, path, training):
        from keras import ops

        prior = self.prior
        h = L.apply(self.stem, x, training)
        window = [h] * self.lookback
        pos = 0
        for s in range(prior.stages):
            if s:
                main, projections = self.reductions[s]
                window = [L.apply(main, window[0], training)] + [
                    proj(window[k]) for k, proj in enumerate(projections, start=1)]
            for _ in range(prior.cells_per_stage):
                outs = []
                for b in range(self.blocks):
                    candidates = ops.stack(window + outs, axis=0)
                    ends = []
                    for p in range(2):
                        chosen = ops.take(candidates, path[b, p, 0], axis=0)
                        branches = [functools.partial(L.apply, self.ops[pos, b, p, o], training=training)
                                    for o in range(self.n_ops)]
                        ends.append(ops.switch(path[b, p, 1], branches, chosen))
                    outs.append(ends[0] + ends[1])
                joined = outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)
                window = [self.out_convs[pos](joined)] + window[:-1]
                pos += 1
        return self.classifier(ops.mean(window[0], axis=(1, 2)))

    def _compile(self):
        import keras
        import tensorflow as tf

        ops = keras.ops
        h, w, c = self.prior.input_shape
        x_spec = tf.TensorSpec((None, h, w, c), tf.float32)
        path_spec = tf.TensorSpec((self.blocks, 2, 2), tf.int32)
        group_slot, group_op = tf.constant(self._group_slot), tf.constant(self._group_op)
        element_group = tf.constant(self._element_group)

        def train_step(x, y, path, learning_rate):
            with tf.GradientTape() as tape:
                logits = self._forward(x, path, True)
                loss = ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            grads = tape.gradient(loss, self.variables)
            g = ops.concatenate([ops.reshape(ops.zeros(v.shape) if g is None else ops.convert_to_tensor(g), (-1,))
                                 for v, g in zip(self.variables, grads)], axis=0)
            chosen = ops.take(ops.reshape(path[:, :, 1], (-1,)), group_slot)
            group_mask = ops.concatenate([ops.ones((1,)), ops.cast(ops.equal(chosen, group_op), "float32")], axis=0)
            mask = ops.take(group_mask, element_group)
            m, s, t = self._m, self._s, self._t
            m.assign(m + mask * (1 - _BETA1) * (g - m))
            s.assign(s + mask * (1 - _BETA2) * (g * g - s))
            t.assign(t + group_mask)
            steps = ops.maximum(ops.take(t, element_group), 1.0)  # an op never trained has t = 0
            m_hat = m / (1 - ops.power(_BETA1, steps))
            s_hat = s / (1 - ops.power(_BETA2, steps))
            delta = mask * learning_rate * m_hat / (ops.sqrt(s_hat) + _EPSILON)
            for v, d in zip(self.variables, tf.split(delta, self._sizes)):
                v.assign(v - ops.reshape(d, v.shape))
            return loss

        def all_finite():
            return ops.all(ops.stack([ops.all(ops.isfinite(v)) for v in self.variables]))

        def predict_step(x, path):
            return ops.argmax(self._forward(x, path, False), axis=-1)

        self._train_step = tf.function(train_step, input_signature=[
            x_spec, tf.TensorSpec((None,), tf.int32), path_spec, tf.TensorSpec((), tf.float32)])
        self._predict_step = tf.function(predict_step, input_signature=[x_spec, path_spec])
        self._all_finite = tf.function(all_finite)

    # -- children -----------------------------------------------------------------------------------

    def path(self, cell):
        """The path of ``cell`` (a Cell of this space, or its stored value) as an int32 array
        ``[block][slot] = (input index, op index)``; input index ``k < lookback`` is the
        previous cell ``-(k + 1)``, ``lookback + j`` is block ``j``."""
        cell = self.prior.decode(cell)
        if cell.level != self.blocks:
            raise CellError(f"the supernet runs cells of exactly {self.blocks} blocks (the space's "
                            f"blocks={self.blocks}); {cell!r} has {cell.level}")
        out = np.zeros((self.blocks, 2, 2), np.int32)
        for b, (i1, o1, i2, o2) in enumerate(cell.blocks):
            for p, (i, op) in enumerate(((i1, o1), (i2, o2))):
                out[b, p] = (-i - 1 if i < 0 else self.lookback + i, self.prior.op_index[op])
        return out

    def train(self, x, y, path, steps, batch_size, rng, learning_rate=1e-3):
        """``steps`` Adam steps of the child ``path`` on minibatches of ``(x, y)`` drawn by
        ``rng`` (a ``numpy.random.Generator``); returns the losses (numpy array)."""
        path = np.asarray(path, np.int32)
        losses = np.empty(steps, np.float32)
        lr = np.float32(learning_rate)
        for k in range(steps):
            idx = rng.choice(len(x), size=batch_size, replace=False)
            losses[k] = float(self._train_step(x[idx], y[idx].astype(np.int32), path, lr))
            self.steps += 1
        return losses

    def accuracy(self, x, y, path, batch_size=256):
        """Accuracy of the child ``path`` on ``(x, y)``, in chunks of about ``batch_size``
        samples normalized with their own statistics."""
        path = np.asarray(path, np.int32)
        correct = 0
        for idx in np.array_split(np.arange(len(x)), max(1, -(-len(x) // batch_size))):
            pred = np.asarray(self._predict_step(x[idx], path))
            correct += int((pred == y[idx]).sum())
        return correct / len(x)

    # -- state --------------------------------------------------------------------------------------

    def identity(self):
        """What decides the supernet's weights' shapes (checked when state is loaded)."""
        return {**self.prior.identity(), "blocks": self.blocks}

    def snapshot(self):
        """The weights and optimizer state as numpy arrays (see :meth:`restore`): the weights,
        then Adam's first moments, second moments and step counts, one array per weight."""
        m, s, t = (np.asarray(v.numpy()) for v in (self._m, self._s, self._t))
        ends = np.cumsum(self._sizes)[:-1]
        shapes = [tuple(v.shape) for v in self.variables]
        return ([np.array(v.numpy()) for v in self.variables]
                + [a.reshape(shape).copy() for a, shape in zip(np.split(m, ends), shapes)]
                + [a.reshape(shape).copy() for a, shape in zip(np.split(s, ends), shapes)]
                + [np.array(t[g]) for g in self._var_group])

    def restore(self, arrays):
        """Put back a :meth:`snapshot`."""
        n = len(self.variables)
        if len(arrays) != 4 * n:
            raise ValueError(f"the stored supernet state has {len(arrays)} arrays; this supernet has "
                             f"{4 * n}")
        shapes = [tuple(v.shape) for v in self.variables] * 3 + [()] * n
        names = [v.path for v in self.variables] * 4
        for a, shape, name in zip(arrays, shapes, names):
            if tuple(np.shape(a)) != shape:
                raise ValueError(f"the stored supernet state has an array of shape {np.shape(a)} where "
                                 f"this supernet has {shape} ({name})")
        for v, a in zip(self.variables, arrays[:n]):
            v.assign(a)
        flat = [np.concatenate([np.asarray(a, "float32").reshape(-1) for a in arrays[k * n:(k + 1) * n]])
                for k in (1, 2)]
        self._m.assign(flat[0])
        self._s.assign(flat[1])
        t = np.zeros(len(self._group_keys), "float32")
        t[self._var_group] = [float(a) for a in arrays[3 * n:]]
        self._t.assign(t)

    def all_finite(self):
        """Whether every weight is finite (one compiled reduction, no copy to numpy)."""
        return bool(self._all_finite())

    def to_bytes(self, extra=None):
        """The state as ``.npz`` bytes (no pickle), with ``extra`` JSON metadata."""
        meta = {"version": _STATE_VERSION, "identity": self.identity(), "steps": self.steps,
                "extra": extra or {}}
        arrays = {f"a{k}": a for k, a in enumerate(self.snapshot())}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def load_bytes(self, data):
        """Load :meth:`to_bytes` output; returns its ``extra``. Raises ValueError when it was
        made for another space."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            arrays = [npz[f"a{k}"] for k in range(len(npz.files) - 1)]
        if meta.get("version") != _STATE_VERSION:
            raise ValueError(f"the stored supernet state has version {meta.get('version')!r}, "
                             f"expected {_STATE_VERSION}")
        if meta["identity"] != self.identity():
            raise ValueError(f"the stored supernet was built for {meta['identity']}, not for this "
                             f"space {self.identity()}")
        self.restore(arrays)
        self.steps = int(meta["steps"])
        return meta["extra"]

    def count_params(self):
        """The number of weights of the whole supernet (every op of every slot)."""
        return int(sum(np.prod(v.shape) for v in self.variables))
