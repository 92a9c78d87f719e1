"""First-order DARTS (Liu et al. 2019) over a ``nas.space.cells`` space.

:func:`search` relaxes the cell's discrete choices into a mixture: in every block, each input
the block may read (the ``lookback`` previous cells, the earlier blocks) reaches the block
through a *mixed op*, the softmax-weighted sum of every op of the space and a "none" op
(zero). The block adds its mixed edges; the cell concatenates its blocks and projects them
with a 1x1 conv, as the unrolled networks do (:mod:`hpo.nas.cell_build`). One set of
architecture weights ``alpha`` (block x input x op) is shared by every cell position, like
the cell itself; each position has its own op weights.

Training alternates, per step, an Adam step of ``alpha`` on a minibatch of the validation
data and an Adam step of the network's weights on a minibatch of the training data (the
first-order approximation: no unrolled second-order term). Normalization uses batch
statistics (:class:`~hpo.nas.oneshot.layers.BatchStatNorm`). Both steps are compiled once.

The discrete cell is derived at the end: in each block, the two inputs whose strongest op
other than "none" has the largest weight, each through that op. The result is a
:class:`~hpo.nas.cells.Cell` of the same space with the space's ``blocks`` blocks, so it can
be trained from scratch and exported by an ordinary ``fmin`` run, for example::

    cell = nas.darts.search(x_train, y_train, x_val, y_val, space, epochs=10)
    trials = Trials()
    fmin(nas.KerasObjective(x_train, y_train, x_val, y_val, epochs=10), space, max_evals=1,
         points_to_evaluate=[{"cell": cell.to_json()}], trials=trials)
    nas.export_best(trials, "darts.keras")

(:func:`hpo.nas.oneshot.finalize` does the same for a list of trials.)

>>> import numpy as np
>>> from hpo.nas import space
>>> rng = np.random.default_rng(0)
>>> x, y = rng.random((32, 8, 8, 1)).astype("float32"), rng.integers(0, 2, 32)
>>> cells = space.cells("cell", (8, 8, 1), 2, blocks=2, ops=["identity", "conv_1x1"], filters=4)
>>> cell = search(x, y, x, y, cells, epochs=1, batch_size=16)
>>> cell.level
2
"""

from __future__ import annotations

import functools
import logging
import time
import warnings

import numpy as np

from .objective import _as_images, _as_labels
from .oneshot import layers as L
from .oneshot.supernet import _require_tensorflow, cell_prior

logger = logging.getLogger(__name__)

_MASKED = -1e9  # the logit of an input a block cannot read


class DartsNetwork:
    """The relaxed network of a cell space (see the module docstring). ``alpha`` is a Keras
    variable of shape ``(blocks, lookback + blocks - 1, len(ops) + 1)``; the last op is
    "none"."""

    def __init__(self, prior, seed=0):
        _require_tensorflow()
        import keras

        self.prior = prior
        self.blocks, self.lookback, self.n_ops = prior.max_blocks, prior.lookback, len(prior.op_names)
        self.n_inputs = self.lookback + self.blocks - 1
        seeds = iter(range(int(seed) * 100_003, int(seed) * 100_003 + 10**6))
        f = prior.filters
        self.stem = [L.conv(f, 3, 1, next(seeds), "stem_conv"), L.BatchStatNorm(name="stem_bn"),
                     keras.layers.ReLU(name="stem_relu")]
        self.reductions, self.edges, self.out_convs = {}, {}, []
        pos = 0
        for s in range(prior.stages):
            f = prior.filters * 2 ** s
            if s:
                self.reductions[s] = L.reduction(f, self.lookback, next(seeds), f"reduce{s}")
            for _ in range(prior.cells_per_stage):
                for b in range(self.blocks):
                    for j in range(self.lookback + b):
                        for o in range(self.n_ops):
                            self.edges[pos, b, j, o] = L.op_stack(prior, o, f, next(seeds), f"p{pos}_b{b}_i{j}_op{o}")
                self.out_convs.append(L.conv(f, 1, 1, next(seeds), f"p{pos}_out"))
                pos += 1
        self.positions = pos
        self.classifier = keras.layers.Dense(prior.num_classes, name="classifier",
                                             kernel_initializer=L.seeded("GlorotUniform", next(seeds)))
        mask = np.zeros((self.blocks, self.n_inputs, self.n_ops + 1), "float32")
        for b in range(self.blocks):
            mask[b, self.lookback + b:] = _MASKED
        self.mask = mask
        rng = np.random.default_rng(seed)
        # DARTS starts alpha near zero (1e-3 * N(0, 1)): a near-uniform mixture.
        self.alpha = keras.Variable(1e-3 * rng.standard_normal(mask.shape).astype("float32"), name="alpha")
        self._forward(np.zeros((2, *prior.input_shape), "float32"))  # creates every weight
        self.weights = []
        for layer in self._layers():
            self.weights += layer.trainable_variables

    def _layers(self):
        out = list(self.stem)
        for main, projections in self.reductions.values():
            out += main + projections
        for stack in self.edges.values():
            out += stack
        return out + self.out_convs + [self.classifier]

    def _forward(self, x):
        from keras import ops

        weights = ops.softmax(self.alpha + self.mask, axis=-1)
        h = L.apply(self.stem, x, True)
        window = [h] * self.lookback
        pos = 0
        for s in range(self.prior.stages):
            if s:
                main, projections = self.reductions[s]
                window = [L.apply(main, window[0], True)] + [proj(window[k]) for k, proj in
                                                             enumerate(projections, start=1)]
            for _ in range(self.prior.cells_per_stage):
                outs = []
                for b in range(self.blocks):
                    inputs = window + outs
                    total = 0
                    for j in range(self.lookback + b):
                        for o in range(self.n_ops):
                            total = total + weights[b, j, o] * L.apply(self.edges[pos, b, j, o], inputs[j], True)
                    outs.append(total)
                joined = outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)
                window = [self.out_convs[pos](joined)] + window[:-1]
                pos += 1
        return self.classifier(ops.mean(window[0], axis=(1, 2)))

    def compile(self, learning_rate, arch_learning_rate):
        """Compile the two steps: weights on a training batch, alpha on a validation batch."""
        import keras
        import tensorflow as tf

        ops = keras.ops
        self.weight_optimizer = keras.optimizers.Adam(learning_rate)
        self.arch_optimizer = keras.optimizers.Adam(arch_learning_rate)
        self.weight_optimizer.build(self.weights)
        self.arch_optimizer.build([self.alpha])

        def loss_of(x, y):
            logits = self._forward(x)
            return ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))

        def step(variables, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = loss_of(x, y)
            grads = tape.gradient(loss, variables)
            optimizer.apply(grads, variables)
            return loss

        x_spec = tf.TensorSpec((None, *self.prior.input_shape), tf.float32)
        y_spec = tf.TensorSpec((None,), tf.int32)
        self.weight_step = tf.function(functools.partial(step, self.weights, self.weight_optimizer),
                                       input_signature=[x_spec, y_spec])
        self.arch_step = tf.function(functools.partial(step, [self.alpha], self.arch_optimizer),
                                     input_signature=[x_spec, y_spec])
        self.predict = tf.function(lambda x: ops.argmax(self._forward(x), axis=-1), input_signature=[x_spec])

    def op_weights(self):
        """The softmax of ``alpha`` as numpy, ``[block, input, op]`` (op ``len(ops)`` is none);
        zeros for an input the block cannot read (a later block)."""
        z = np.asarray(self.alpha.numpy(), dtype=float)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return np.where(self.mask < 0, 0.0, e / e.sum(axis=-1, keepdims=True))

    def derive(self):
        """The discrete cell: per block the two inputs with the strongest op other than none."""
        w = self.op_weights()
        blocks = []
        for b in range(self.blocks):
            n_in = self.lookback + b
            strength = w[b, :n_in, :self.n_ops].max(axis=-1)
            best_op = w[b, :n_in, :self.n_ops].argmax(axis=-1)
            order = np.argsort(-strength, kind="stable")
            picked = list(order[:2]) if n_in >= 2 else [order[0], order[0]]
            pairs = [(int(-j - 1 if j < self.lookback else j - self.lookback), self.prior.op_names[best_op[j]])
                     for j in picked]
            blocks.append((pairs[0][0], pairs[0][1], pairs[1][0], pairs[1][1]))
        return self.prior.decode(blocks)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def search(x_train, y_train, x_val, y_val, space, epochs=10, batch_size=64, learning_rate=2e-3,
           arch_learning_rate=3e-3, steps_per_epoch=None, seed=0, label=None, return_network=False):
    """First-order DARTS over the cell parameter of ``space``; returns the derived Cell.

    ``space`` is a ``nas.space.cells`` parameter, a space holding one (``label`` picks it) or
    its prior. Each of ``epochs`` epochs runs ``steps_per_epoch`` (default: one pass over
    ``x_train`` in minibatches of ``batch_size``) alternating steps: ``alpha`` (Adam,
    ``arch_learning_rate``) on a validation minibatch, then the weights (Adam,
    ``learning_rate``) on a training minibatch. ``seed`` fixes the initial weights and the
    minibatches. With ``return_network=True`` it returns ``(cell, network)``, the
    :class:`DartsNetwork` with its learned ``op_weights()``.
    """
    x_train = _as_images("x_train", x_train)
    y_train = _as_labels("y_train", y_train, len(x_train)).astype(np.int32)
    x_val = _as_images("x_val", x_val)
    y_val = _as_labels("y_val", y_val, len(x_val)).astype(np.int32)
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    for name, n in (("x_train", len(x_train)), ("x_val", len(x_val))):
        if n < batch_size:
            raise ValueError(f"{name} has {n} samples, fewer than one minibatch (batch_size={batch_size}); "
                             f"lower batch_size")
    steps = len(x_train) // batch_size if steps_per_epoch is None else _positive_int("steps_per_epoch",
                                                                                   steps_per_epoch)
    prior = cell_prior(space, label)
    if x_train.shape[1:] != prior.input_shape or x_val.shape[1:] != prior.input_shape:
        raise ValueError(f"the data's samples have shape {x_train.shape[1:]} but the cell space takes "
                         f"input_shape={prior.input_shape}")
    n_labels = int(max(y_train.max(), y_val.max())) + 1
    if n_labels > prior.num_classes:
        raise ValueError(f"the data has labels up to {n_labels - 1} but the cell space has "
                         f"num_classes={prior.num_classes}")
    net = DartsNetwork(prior, seed=seed)
    net.compile(float(learning_rate), float(arch_learning_rate))
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    for epoch in range(epochs):
        losses = []
        for _ in range(steps):
            v = rng.choice(len(x_val), size=batch_size, replace=False)
            net.arch_step(x_val[v], y_val[v])
            t = rng.choice(len(x_train), size=batch_size, replace=False)
            losses.append(float(net.weight_step(x_train[t], y_train[t])))
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(f"DARTS: the training loss became NaN or infinite in epoch {epoch + 1}; "
                                     f"lower learning_rate (got {learning_rate})")
        logger.info("darts epoch %d/%d: train loss %.4f, %.1f s", epoch + 1, epochs, float(np.mean(losses)),
                    time.monotonic() - start)
    cell = net.derive()
    if not prior.fits(cell):
        warnings.warn(f"the derived cell {cell!r} has more than max_params={prior.max_params} weights",
                      UserWarning, stacklevel=2)
    return (cell, net) if return_network else cell
